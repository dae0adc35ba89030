#include "setup.h"

#include "config.h"
#include "desktop.h"
#include "fsutil.h"
#include "guid.h"
#include "log.h"
#include "path.h"
#include "setup_steps.h"
#include "sysfs.h"
#include "xrdp_listen.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

const char *setup_path(const struct setup *s, char *buf, size_t n, const char *abs)
{
	return md9_path_join(buf, n, s->root, abs);
}

static bool exists(const char *p)
{
	return access(p, F_OK) == 0;
}

void setup_say(struct setup *s, const char *verb, const char *fmt, ...)
{
	bool change = strcmp(verb, "ok") != 0 && strcmp(verb, "note") != 0 &&
	              strcmp(verb, "FAILED") != 0 && strcmp(verb, "skip") != 0;
	va_list ap;

	va_start(ap, fmt);
	setup_report_vsay(&s->rep, change, verb, fmt, ap);
	va_end(ap);
}

void setup_failed(struct setup *s, const char *fmt, ...)
{
	va_list ap;

	s->rep.failures++;
	va_start(ap, fmt);
	setup_report_vsay(&s->rep, false, "FAILED", fmt, ap);
	va_end(ap);
}

bool setup_have_prog(const char *name, char *out, size_t cap)
{
	static const char *const dirs[] = {"/usr/sbin", "/usr/bin", "/sbin", "/bin"};

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		md9_path_join(out, cap, dirs[i], name);
		if (access(out, X_OK) == 0)
			return true;
	}
	return false;
}

/* Run argv (argv[0] a full path); its output goes to ours. Exit status, or
 * -errno when it could not run. */
int setup_run(struct setup *s, char *const argv[])
{
	char line[1024] = "";
	pid_t pid;
	int st;

	for (size_t i = 0; argv[i]; i++) {
		size_t l = strlen(line);
		snprintf(line + l, sizeof(line) - l, "%s%s", i ? " " : "", argv[i]);
	}
	setup_say(s, "run", "%s", line);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		dup2(fileno(s->rep.out), STDOUT_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

char *setup_expand_bin(const char *tmpl, const char *bin)
{
	const char *ph = "@MD9_BIN@";
	size_t n = 0, pl = strlen(ph), bl = strlen(bin);
	char *out, *o;

	for (const char *p = strstr(tmpl, ph); p; p = strstr(p + pl, ph))
		n++;
	out = malloc(strlen(tmpl) + n * bl + 1);
	if (!out)
		return NULL;
	o = out;
	for (const char *p = tmpl;;) {
		const char *q = strstr(p, ph);
		if (!q) {
			strcpy(o, p);
			break;
		}
		memcpy(o, p, (size_t)(q - p));
		o += q - p;
		memcpy(o, bin, bl);
		o += bl;
		p = q + pl;
	}
	return out;
}

const char *setup_find_installed(struct setup *s, const char *const *paths, char *buf, size_t n)
{
	for (; *paths; paths++)
		if (exists(setup_path(s, buf, n, *paths)))
			return *paths;
	return NULL;
}

bool setup_install_unless(struct setup *s, const char *const *packaged, const char *dest,
                          const char *text, mode_t mode, const char *why)
{
	char p[PATH_MAX];
	const char *have = setup_find_installed(s, packaged, p, sizeof(p));
	int err;

	if (have) {
		setup_say(s, "ok", "%s (%s)", have, why);
		return false;
	}
	setup_path(s, p, sizeof(p), dest);
	setup_say(s, "install", "%s: %s", dest, why);
	s->rep.changes++;
	if (s->o->dry_run)
		return true;
	if ((err = md9_fs_write_atomic(p, text, mode)) < 0) {
		setup_failed(s, "writing %s: %s", p, strerror(-err));
		return false;
	}
	return true;
}

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
	s.systemd = s.live && exists(md9_path_join(p, sizeof(p), s.r->run, "systemd/system"));
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
	if (md9_config_load(&cfg, setup_path(&s, p, sizeof(p), "/etc/md9/md9.conf"), true) < 0) {
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
			setup_say(&s, "note",
			          "md9 for ExecStart= and RUN+=: %s (root's, only root can change "
			          "it)",
			          s.self);
		else
			setup_failed(&s,
			             "md9 for ExecStart= and RUN+=: %s (install md9 as root: cmake "
			             "--install, "
			             "or the package; then run that md9 setup)",
			             why);
	}
	s.want_unix = !o->tcp && exists(setup_path(&s, p, sizeof(p), "/etc/xrdp/xrdp.ini"));
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

int md9_bind_classes(const struct md9_roots *roots)
{
	static const struct md9_guid *const classes[] = {&md9_guid_control_class,
	                                                 &md9_guid_data_class};
	char dir[PATH_MAX], text[MD9_GUID_STRLEN];
	int rc = 0;

	md9_path_join(dir, sizeof(dir), roots->sys, "bus/vmbus/drivers/uio_hv_generic");
	for (size_t i = 0; i < 2; i++) {
		int err = md9_sysfs_new_id(dir, classes[i]);

		md9_guid_format(classes[i], text);
		if (err == -ENOENT) {
			log_err("%s/new_id missing: uio_hv_generic is not loaded (modprobe "
			        "uio_hv_generic)",
			        dir);
			return 1;
		} else if (err == 1) {
			log_info("class %s: already bound to uio_hv_generic", text);
		} else if (err) {
			log_err("binding class %s (%s/new_id): %s%s", text, dir, strerror(-err),
			        err == -EACCES || err == -EPERM ? " (needs root)" : "");
			rc = 1;
		} else {
			log_info("class %s bound to uio_hv_generic", text);
		}
	}
	return rc;
}
