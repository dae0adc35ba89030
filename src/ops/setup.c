/* md9 setup (setup.h): settles the run's context and runs the steps
 * (setup_steps.h) in order; what they share is in setup_tools.c. */
#include "setup.h"

#include "config.h"
#include "desktop.h"
#include "fsutil.h"
#include "path.h"
#include "setup_steps.h"
#include "xrdp_listen.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ---- the run ---- */

int md9_setup(const struct md9_setup_opts *o, FILE *out)
{
	struct setup s = {.o = o, .rep = {.out = out, .dry_run = o->dry_run}};
	struct md9_config cfg;
	enum md9_security mode;
	char p[PATH_MAX];
	ssize_t n;

	/* The real system, or the one installed under --root (roots.h). */
	s.r = &o->roots;
	s.live = md9_roots_are_default(s.r);
	s.root = s.live ? "" : s.r->top;
	s.systemd =
	    s.live && setup_tools_exists(md9_path_join(p, sizeof(p), s.r->run, "systemd/system"));
	if (o->self) {
		snprintf(s.self, sizeof(s.self), "%s", o->self);
	} else if ((n = readlink("/proc/self/exe", s.self, sizeof(s.self) - 1)) > 0) {
		s.self[n] = '\0';
	} else {
		strcpy(s.self, "/usr/bin/md9");
	}
	if (o->security && md9_security_parse(o->security, &mode) < 0) {
		fprintf(out, "md9 setup: --security %s: must be auto, tls, rdp or passthrough\n",
		        o->security);
		return 2;
	}
	md9_config_defaults(&cfg);
	if (md9_config_load(&cfg, setup_tools_path(&s, p, sizeof(p), "/etc/md9/md9.conf"), true) <
	    0) {
		fprintf(out, "md9 setup: fix %s first (see the error above)\n", p);
		return 1;
	}
	if (!o->security)
		mode = cfg.security;
	if (s.live && geteuid() != 0 && !o->dry_run)
		fprintf(out,
		        "md9 setup: not root: changing the system will fail (sudo md9 setup)\n");

	if (o->undo) {
		struct desktop_run d = {.root = s.root, .rep = {.out = out, .dry_run = o->dry_run}};

		fprintf(out, "md9 setup --undo%s: root %s\n", o->dry_run ? " --dry-run" : "",
		        s.live ? "/" : s.root);
		desktop_undo(&d);
		if (d.rep.failures)
			fprintf(out, "md9 setup --undo: %u step(s) failed\n", d.rep.failures);
		else
			fprintf(out, "md9 setup --undo: %u change(s)%s\n", d.rep.changes,
			        o->dry_run ? " would be made; nothing was changed" : " made");
		return d.rep.failures ? 1 : 0;
	}
	fprintf(out, "md9 setup%s: root %s, security mode %s\n", o->dry_run ? " --dry-run" : "",
	        s.live ? "/" : s.root, md9_security_name(mode));
	{
		/* root will run this program from the unit and the udev rule */
		char full[PATH_MAX * 2], resolved[PATH_MAX], why[PATH_MAX * 2 + 200];
		md9_path_join(full, sizeof(full), s.root, s.self);
		s.self_ok = md9_fs_root_only(full, resolved, why, sizeof(why));
		if (s.self_ok)
			setup_tools_say(
			    &s, "note",
			    "md9 for ExecStart= and RUN+=: %s (root's, only root can change "
			    "it)",
			    s.self);
		else
			setup_tools_failed(
			    &s,
			    "md9 for ExecStart= and RUN+=: %s (install md9 as root: cmake "
			    "--install, "
			    "or the package; then run that md9 setup)",
			    why);
	}
	s.want_unix =
	    !o->tcp && setup_tools_exists(setup_tools_path(&s, p, sizeof(p), "/etc/xrdp/xrdp.ini"));
	setup_system_sysusers(&s);
	setup_system_user(&s);
	setup_system_groups(&s);
	setup_system_modules(&s);
	setup_system_udev(&s);
	setup_edit_config(&s, o->security, cfg.security,
	                  s.want_unix ? "unix:" MD9_XRDP_SOCKET : NULL, cfg.backend.spec);
	setup_system_unit(&s);
	setup_edit_xrdp(&s, mode);
	{
		struct desktop_run d = {.root = s.root, .rep = {.out = out, .dry_run = o->dry_run}};
		desktop_setup(&d);
		s.rep.changes += d.rep.changes;
		s.rep.failures += d.rep.failures;
	}

	if (s.rep.failures)
		fprintf(out, "md9 setup: %u step(s) failed, %u change(s)%s\n", s.rep.failures,
		        s.rep.changes, o->dry_run ? " would be made" : " made");
	else if (!s.rep.changes)
		fprintf(out, "md9 setup: nothing to do: everything is in place\n");
	else if (o->dry_run)
		fprintf(out,
		        "md9 setup --dry-run: %u change(s) would be made; nothing was changed\n",
		        s.rep.changes);
	else
		fprintf(out, "md9 setup: %u change(s) made; check with: md9 doctor\n",
		        s.rep.changes);
	return s.rep.failures ? 1 : 0;
}
