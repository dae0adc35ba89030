/* xrdp mounts the client's redirected drives with FUSE at the path in
 * sesman.ini [Chansrv] FuseMountName (relative to the user's home; xrdp's
 * default "thinclient_drives"). linux-vm-tools renamed it to
 * "shared-drives", which Hyper-V users know; md9 does the same, but keeps
 * a name the administrator chose. tests/e2e/test_drive.py uses this name. */
#include "desktop.h"
#include "inikey.h"
#include "xrdp_ini.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SESMAN_INI        "/etc/xrdp/sesman.ini"
#define XRDP_DEFAULT_NAME "thinclient_drives"

static enum desktop_verdict fusemount_decide(const char *root, char *path, size_t pcap, char *why,
                                             size_t wcap)
{
	char *text = desktop_read(root, SESMAN_INI), cur[256];
	enum desktop_verdict v;

	snprintf(path, pcap, "%s", SESMAN_INI);
	if (!text) {
		snprintf(why, wcap, "%s: not there (xrdp is not installed)", SESMAN_INI);
		return DESKTOP_NA;
	}
	if (inikey_get(text, "Chansrv", "EnableFuseMount", cur, sizeof(cur)) &&
	    !md9_xrdp_ini_true(cur)) {
		snprintf(why, wcap, "%s: EnableFuseMount=%s: drive redirection is off; kept",
		         SESMAN_INI, cur);
		v = DESKTOP_NA;
	} else if (!inikey_get(text, "Chansrv", "FuseMountName", cur, sizeof(cur)) ||
	           strcmp(cur, XRDP_DEFAULT_NAME) == 0) {
		snprintf(why, wcap, "redirected drives at ~/%s", DESKTOP_FUSE_MOUNT_NAME);
		v = DESKTOP_EDIT;
	} else if (strcmp(cur, DESKTOP_FUSE_MOUNT_NAME) == 0) {
		snprintf(why, wcap, "%s: redirected drives at ~/%s", SESMAN_INI, cur);
		v = DESKTOP_OK;
	} else {
		snprintf(why, wcap, "%s: FuseMountName=%s chosen here; kept", SESMAN_INI, cur);
		v = DESKTOP_OK;
	}
	free(text);
	return v;
}

static char *fusemount_edit(const char *cur)
{
	bool changed;

	return inikey_set(cur ? cur : "", "Chansrv", "FuseMountName", DESKTOP_FUSE_MOUNT_NAME,
	                  &changed);
}

const struct desktop_step fusemount_step = {
    .name = "drive mount name",
    .what = "xrdp's FuseMountName",
    .decide = fusemount_decide,
    .edit = fusemount_edit,
};
