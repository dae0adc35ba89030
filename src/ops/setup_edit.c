/* md9 setup's edits of configuration files: xrdp.ini for the security mode
 * and the listeners (xrdp_listen.h), and md9.conf's security and backend
 * (setup_steps.h). Edits go through inikey.h, are shown as diffs and keep
 * xrdp.ini's first backup. */
#include "config.h"
#include "fsutil.h"
#include "inikey.h"
#include "setup_steps.h"
#include "textfile.h"
#include "xrdp_ini.h"
#include "xrdp_listen.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Set key in *text (replaced by the edited copy): 1 when it changed, 0 when
 * it said so already, -ENOMEM. top and sep as inikey_set_in. */
static int set_key(char **text, const char *section, bool top, const char *key, const char *sep,
                   const char *value)
{
	bool changed;
	char *neu = inikey_set_in(*text, section, top, key, sep, value, &changed);

	if (!neu)
		return -ENOMEM;
	free(*text);
	*text = neu;
	return changed;
}

/* Edit xrdp.ini's text for the mode: 1 changed, 0 fits already, -ENOMEM.
 * Only what the mode needs, and only where xrdp does not say so already
 * (its values are case-insensitive: xrdp.ini(5)). */
static int mode_edit_xrdp(char **text, enum md9_security mode, const struct md9_xrdp_ini *x)
{
	int r = 0, changed = 0;
	bool sl_rdp = strcasecmp(x->security_layer, "rdp") == 0;
	bool sl_tls = strcasecmp(x->security_layer, "tls") == 0;
	bool cl_none = strcasecmp(x->crypt_level, "none") == 0;

	switch (mode) {
	case MD9_SEC_RDP:
		if (sl_tls &&
		    (r = set_key(text, "Globals", false, "security_layer", "=", "negotiate")))
			changed |= r;
		if (r >= 0 && !cl_none &&
		    (r = set_key(text, "Globals", false, "crypt_level", "=", "none")))
			changed |= r;
		break;
	case MD9_SEC_PASSTHROUGH:
		if (!x->vmconnect &&
		    (r = set_key(text, "Globals", false, "vmconnect", "=", "true")))
			changed |= r;
		break;
	case MD9_SEC_AUTO:
		/* Only when xrdp would choose standard RDP security. */
		if (sl_rdp && !cl_none &&
		    (r = set_key(text, "Globals", false, "crypt_level", "=", "none")))
			changed |= r;
		break;
	case MD9_SEC_TLS:
		if (sl_rdp &&
		    (r = set_key(text, "Globals", false, "security_layer", "=", "negotiate")))
			changed |= r;
		break;
	}
	return r < 0 ? r : changed;
}

void setup_edit_xrdp(struct setup *s, enum md9_security mode)
{
	static const char ini[] = "/etc/xrdp/xrdp.ini";
	char p[PATH_MAX], bak[PATH_MAX + 16], prog[PATH_MAX];
	struct md9_xrdp_ini x;
	char *old, *neu = NULL;
	int err, changed;

	setup_tools_path(s, p, sizeof(p), ini);
	old = md9_textfile_read(p, SETUP_FILE_MAX, NULL, &err);
	if (!old) {
		setup_tools_say(s, "note",
		                "%s: %s: xrdp is not installed (apt-get install xrdp), or md9 uses "
		                "another RDP server",
		                ini, strerror(-err));
		return;
	}
	md9_xrdp_ini_read(p, &x);
	if (!(neu = strdup(old))) {
		setup_tools_failed(s, "out of memory");
		free(old);
		return;
	}
	changed = mode_edit_xrdp(&neu, mode, &x);
	if (changed >= 0) {
		/* crypt_level=none (what rdp mode needs, and auto with a
		 * security_layer=rdp xrdp) lets any client choose no
		 * encryption: then no listener the network reaches may stay. */
		bool sl_rdp = strcasecmp(x.security_layer, "rdp") == 0;
		bool sl_tls = strcasecmp(x.security_layer, "tls") == 0 && mode != MD9_SEC_RDP;
		bool none = strcasecmp(x.crypt_level, "none") == 0 || mode == MD9_SEC_RDP ||
		            (mode == MD9_SEC_AUTO && sl_rdp);
		char port[sizeof(x.port) + 64];
		int r = md9_xrdp_listen_port_for(&x, s->want_unix, none && !sl_tls, MD9_XRDP_SOCKET,
		                                 port, sizeof(port));
		if (r > 0 && (r = set_key(&neu, "Globals", false, "port", "=", port)) != 0)
			changed = r < 0 ? r : changed | r;
	}
	if (changed < 0) {
		setup_tools_failed(s, "out of memory");
		goto out;
	}
	if (!changed) {
		setup_tools_say(s, "ok", "%s fits md9's %s mode", ini, md9_security_name(mode));
		goto out;
	}
	snprintf(bak, sizeof(bak), "%s.md9-backup", p);
	setup_tools_say(s, "edit", "%s for md9's %s mode (backup %s.md9-backup%s):", ini,
	                md9_security_name(mode), ini,
	                setup_tools_exists(bak) ? ", kept from an earlier run" : "");
	s->rep.changes++;
	setup_report_diff(&s->rep, ini, old, neu);
	if (s->o->dry_run)
		goto out;
	if (!setup_tools_exists(bak) && (err = md9_fs_backup(p, bak)) < 0) {
		setup_tools_failed(s, "writing the backup %s: %s", bak, strerror(-err));
		goto out;
	}
	if ((err = md9_fs_write_atomic(p, neu, 0644)) < 0) {
		setup_tools_failed(s, "writing %s: %s", p, strerror(-err));
		goto out;
	}
	if (s->live && s->systemd && setup_tools_have_prog("systemctl", prog, sizeof(prog))) {
		char *argv[] = {prog, "try-restart", "xrdp.service", NULL};
		setup_tools_run(s, argv);
	} else {
		setup_tools_say(s, "note", "restart xrdp to apply it");
	}
out:
	free(old);
	free(neu);
}

/* /etc/md9/md9.conf: the example when missing; `security` when --security
 * names another mode than the file. */
void setup_edit_config(struct setup *s, const char *want_security, enum md9_security file_mode,
                       const char *want_backend, const char *file_backend)
{
	static const char conf[] = "/etc/md9/md9.conf";
	char p[PATH_MAX];
	char *cur, *neu = NULL;
	bool had;
	int err, changed = 0;

	setup_tools_path(s, p, sizeof(p), conf);
	cur = md9_textfile_read(p, SETUP_FILE_MAX, NULL, &err);
	had = cur != NULL;
	if (!had && !(cur = md9_config_template_text())) {
		setup_tools_failed(s, "out of memory");
		return;
	}
	/* md9.conf's keys before any header count as [md9] (libinih, config.c) */
	if (!(neu = strdup(cur))) {
		setup_tools_failed(s, "out of memory");
		free(cur);
		return;
	}
	if (want_security) {
		enum md9_security m;
		md9_security_parse(want_security, &m);
		if (m != file_mode || !had)
			changed = set_key(&neu, "md9", true, "security", " = ", want_security);
	}
	if (changed >= 0 && want_backend && (strcmp(want_backend, file_backend) != 0 || !had)) {
		int r = set_key(&neu, "md9", true, "backend", " = ", want_backend);
		changed = r < 0 ? r : changed | r;
	}
	if (changed < 0) {
		setup_tools_failed(s, "out of memory");
		goto out;
	}
	if (!had) {
		setup_tools_say(
		    s, "install", "%s: md9's configuration, every setting documented%s%s%s%s", conf,
		    want_security ? ", with security = " : "", want_security ? want_security : "",
		    want_backend ? ", backend = " : "", want_backend ? want_backend : "");
		s->rep.changes++;
		if (!s->o->dry_run && (err = md9_fs_write_atomic(p, neu, 0644)) < 0)
			setup_tools_failed(s, "writing %s: %s", p, strerror(-err));
	} else if (changed > 0) {
		setup_tools_say(s, "edit", "%s:", conf);
		s->rep.changes++;
		setup_report_diff(&s->rep, conf, cur, neu);
		if (!s->o->dry_run && (err = md9_fs_write_atomic(p, neu, 0644)) < 0)
			setup_tools_failed(s, "writing %s: %s", p, strerror(-err));
	} else {
		setup_tools_say(s, "ok", "%s (security %s, backend %s)", conf,
		                md9_security_name(file_mode), file_backend);
	}
out:
	free(cur);
	free(neu);
}
