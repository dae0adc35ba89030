/* colord's device and profile actions are allow_active=yes but
 * allow_any=auth_admin (its org.freedesktop.color.policy): a session that
 * polkit does not count as local and active, as an xrdp session is, gets a
 * password dialog each time GNOME's colour plugin creates a device or
 * profile for the session's display. linux-vm-tools installed a rule that
 * answers "no" there instead of asking (Ubuntu: a .pkla with ResultAny=no;
 * Arch: a JavaScript rule). md9 does the same where colord is installed, in
 * the form the installed polkit reads: rules.d (polkit 0.106 and later,
 * Debian 12's 122) or the local authority (.pkla, polkit 0.105, e.g.
 * Ubuntu 22.04). Local active sessions keep colord's own defaults. */
#include "desktop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COLORD_POLICY "/usr/share/polkit-1/actions/org.freedesktop.color.policy"
#define RULES_FILE    "/etc/polkit-1/rules.d/45-md9-colord.rules"
#define PKLA_FILE     "/etc/polkit-1/localauthority/50-local.d/45-md9-colord.pkla"

static const char rules_text[] =
    "// Written by md9 setup; md9 setup --undo removes it.\n"
    "// colord asks remote desktop sessions (xrdp behind md9) for an administrator\n"
    "// password whenever the desktop creates a colour device or profile; answer\n"
    "// \"no\" there without asking. Local active sessions keep colord's defaults.\n"
    "polkit.addRule(function(action, subject) {\n"
    "    var asks = [\"create-device\", \"create-profile\", \"delete-device\",\n"
    "                \"delete-profile\", \"modify-device\", \"modify-profile\"];\n"
    "    var prefix = \"org.freedesktop.color-manager.\";\n"
    "    if (action.id.indexOf(prefix) == 0 &&\n"
    "        asks.indexOf(action.id.substring(prefix.length)) >= 0 &&\n"
    "        !(subject.local && subject.active)) {\n"
    "        return polkit.Result.NO;\n"
    "    }\n"
    "});\n";

static const char pkla_text[] =
    "# Written by md9 setup; md9 setup --undo removes it.\n"
    "# colord asks remote desktop sessions (xrdp behind md9) for an administrator\n"
    "# password whenever the desktop creates a colour device or profile; answer\n"
    "# \"no\" there without asking. Active local sessions keep \"yes\".\n"
    "[md9: colord without password prompts in remote sessions]\n"
    "Identity=unix-user:*\n"
    "Action=org.freedesktop.color-manager.create-device;"
    "org.freedesktop.color-manager.create-profile;"
    "org.freedesktop.color-manager.delete-device;"
    "org.freedesktop.color-manager.delete-profile;"
    "org.freedesktop.color-manager.modify-device;"
    "org.freedesktop.color-manager.modify-profile\n"
    "ResultAny=no\n"
    "ResultInactive=no\n"
    "ResultActive=yes\n";

static enum desktop_verdict colord_decide(const char *root, char *path, size_t pcap, char *why,
                                          size_t wcap)
{
	bool rules = desktop_exists(root, "/usr/share/polkit-1/rules.d") ||
	             desktop_exists(root, "/etc/polkit-1/rules.d");
	bool pkla = desktop_exists(root, "/etc/polkit-1/localauthority") ||
	            desktop_exists(root, "/var/lib/polkit-1/localauthority");

	snprintf(path, pcap, "%s", rules || !pkla ? RULES_FILE : PKLA_FILE);
	if (!desktop_exists(root, COLORD_POLICY)) {
		snprintf(why, wcap, "colord is not installed: no password prompt to stop");
		return DESKTOP_NA;
	}
	if (!rules && !pkla) {
		snprintf(why, wcap, "colord without polkit (no rules.d, no localauthority)");
		return DESKTOP_NA;
	}
	snprintf(why, wcap, "remote sessions get no colord password prompt (%s)",
	         rules ? "polkit rules.d" : "polkit local authority");
	return DESKTOP_EDIT;
}

static char *colord_edit_rules(const char *cur)
{
	(void)cur;
	return strdup(rules_text);
}

static char *colord_edit_pkla(const char *cur)
{
	(void)cur;
	return strdup(pkla_text);
}

/* The path decides the form; desktop.c asks through colord_edit_for(). */
char *(*colord_edit_for(const char *path))(const char *)
{
	return strcmp(path, PKLA_FILE) == 0 ? colord_edit_pkla : colord_edit_rules;
}

static const char *const colord_paths[] = {RULES_FILE, PKLA_FILE, NULL};

const struct desktop_step colord_step = {
    .name = "colour profiles",
    .what = "polkit rule for colord",
    .decide = colord_decide,
    .edit = colord_edit_rules,
    .paths = colord_paths,
    .edit_for = colord_edit_for,
};
