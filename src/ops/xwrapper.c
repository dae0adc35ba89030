/* Debian's Xorg wrapper (Xorg.wrap, package xserver-xorg-legacy) starts an
 * X server only for users on the console unless /etc/X11/Xwrapper.config
 * says allowed_users=anybody (Xwrapper.config(5)). An xrdp session whose
 * sesman.ini [Xorg] command is the wrapper ("Xorg", "/usr/bin/Xorg") then
 * fails to start its X server. xrdp's own packages run /usr/lib/xorg/Xorg
 * directly, which needs no wrapper: then this step does not apply. */
#include "desktop.h"
#include "inikey.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XWRAPPER "/etc/X11/Xwrapper.config"

/* The first param= of sesman.ini's [Xorg] section: the X server it runs. */
static bool session_xserver(const char *root, char *out, size_t cap)
{
	char *text = desktop_read(root, "/etc/xrdp/sesman.ini");
	bool ok = text && inikey_get_first(text, "Xorg", "param", out, cap);

	free(text);
	return ok;
}

static enum desktop_verdict xwrapper_decide(const char *root, char *path, size_t pcap, char *why,
                                            size_t wcap)
{
	char xserver[256], cur[64];
	char *text;
	enum desktop_verdict v;

	snprintf(path, pcap, "%s", XWRAPPER);
	if (!desktop_exists(root, "/usr/lib/xorg/Xorg.wrap")) {
		snprintf(why, wcap, "no Xorg wrapper (xserver-xorg-legacy not installed)");
		return DESKTOP_NA;
	}
	if (!session_xserver(root, xserver, sizeof(xserver))) {
		snprintf(why, wcap, "no xrdp Xorg session (sesman.ini has no [Xorg] param)");
		return DESKTOP_NA;
	}
	if (strcmp(xserver, "Xorg") != 0 && strcmp(xserver, "/usr/bin/Xorg") != 0) {
		snprintf(why, wcap, "xrdp runs %s directly, not the wrapper", xserver);
		return DESKTOP_NA;
	}
	text = desktop_read(root, XWRAPPER);
	if (text && inikey_get(text, "", "allowed_users", cur, sizeof(cur)) &&
	    strcmp(cur, "anybody") == 0) {
		snprintf(why, wcap, "%s: allowed_users=anybody", XWRAPPER);
		v = DESKTOP_OK;
	} else {
		snprintf(why, wcap, "xrdp's session runs %s through Xorg.wrap", xserver);
		v = DESKTOP_EDIT;
	}
	free(text);
	return v;
}

static char *xwrapper_edit(const char *cur)
{
	bool changed;

	/* A file md9 creates says so: --undo removes only that one. */
	return inikey_set(cur ? cur : "# Written by md9 setup; md9 setup --undo removes it.\n", "",
	                  "allowed_users", "anybody", &changed);
}

const struct desktop_step xwrapper_step = {
    .name = "X wrapper",
    .what = "allowed_users=anybody, so a remote session may start Xorg",
    .decide = xwrapper_decide,
    .edit = xwrapper_edit,
};
