#include "setup.h"

#include "desktop.h"

#include "adapter.h"
#include "config.h"
#include "doctor.h"
#include "fsutil.h"
#include "guid.h"
#include "inikey.h"
#include "log.h"
#include "passwd.h"
#include "path.h"
#include "privdrop.h"
#include "sysfs.h"
#include "textdiff.h"
#include "textfile.h"
#include "xrdp_ini.h"
#include "xrdp_listen.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- INI edits (inikey.h) ---- */

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

/* ---- files and commands ---- */

struct setup {
	const struct md9_setup_opts *o;
	FILE *out;
	const char *root; /* "" for "/" so that root + "/etc" works */
	bool live;        /* root is "/": act on the running system too */
	bool systemd;     /* systemd runs (live only) */
	bool want_unix;   /* xrdp and md9 meet on MD9_XRDP_SOCKET (not --tcp) */
	char self[PATH_MAX];
	bool self_ok; /* self is a program only root can change (fsutil.h) */
	unsigned changes, failures;
};

/* abs under the root; "" when too long. */
static const char *rp(const struct setup *s, char *buf, size_t n, const char *abs)
{
	return md9_path_join(buf, n, s->root, abs);
}

static bool exists(const char *p)
{
	return access(p, F_OK) == 0;
}

static bool exists_l(const char *p)
{
	struct stat st;

	return lstat(p, &st) == 0;
}

/* A file md9 setup reads or edits: whole, up to 16 MiB (no file it edits
 * is larger). */
#define SETUP_FILE_MAX (16u << 20)

static void say(struct setup *s, const char *verb, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(struct setup *s, const char *verb, const char *fmt, ...)
{
	char what[1024], v[32];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (s->o->dry_run && strcmp(verb, "ok") != 0 && strcmp(verb, "note") != 0 &&
	    strcmp(verb, "FAILED") != 0)
		snprintf(v, sizeof(v), "would %s", verb);
	else
		snprintf(v, sizeof(v), "%s", verb);
	fprintf(s->out, "  %-14s %s\n", v, what);
	fflush(s->out);
}

static void failed(struct setup *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void failed(struct setup *s, const char *fmt, ...)
{
	char what[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	s->failures++;
	say(s, "FAILED", "%s", what);
}

static bool have_prog(const char *name, char *out, size_t cap)
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
static int run(struct setup *s, char *const argv[])
{
	char line[1024] = "";
	pid_t pid;
	int st;

	for (size_t i = 0; argv[i]; i++) {
		size_t l = strlen(line);
		snprintf(line + l, sizeof(line) - l, "%s%s", i ? " " : "", argv[i]);
	}
	say(s, "run", "%s", line);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		dup2(fileno(s->out), STDOUT_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

static char *expand_bin(const char *tmpl, const char *bin)
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

/* The first of `paths` (absolute, under the root) that exists, or NULL. */
static const char *find_installed(struct setup *s, const char *const *paths, char *buf, size_t n)
{
	for (; *paths; paths++)
		if (exists(rp(s, buf, n, *paths)))
			return *paths;
	return NULL;
}

/* Install `text` at `dest` unless one of `packaged` exists. */
static bool install_unless(struct setup *s, const char *const *packaged, const char *dest,
                           const char *text, mode_t mode, const char *why)
{
	char p[PATH_MAX];
	const char *have = find_installed(s, packaged, p, sizeof(p));
	int err;

	if (have) {
		say(s, "ok", "%s (%s)", have, why);
		return false;
	}
	rp(s, p, sizeof(p), dest);
	say(s, "install", "%s: %s", dest, why);
	s->changes++;
	if (s->o->dry_run)
		return true;
	if ((err = md9_fs_write_atomic(p, text, mode)) < 0) {
		failed(s, "writing %s: %s", p, strerror(-err));
		return false;
	}
	return true;
}

/* ---- the steps ---- */

/* Is there an entry `name` in the passwd- or group-format file under the root? */
static bool passwd_has(struct setup *s, const char *file, const char *name)
{
	char p[PATH_MAX];

	return md9_passwd_id(rp(s, p, sizeof(p), file), name) >= 0;
}

static void step_user(struct setup *s)
{
	char prog[PATH_MAX], rootopt[PATH_MAX + 8], uline[512];
	const char *u;
	size_t ul;
	int rc = -1;

	if (passwd_has(s, "/etc/passwd", MD9_DEFAULT_USER) &&
	    passwd_has(s, "/etc/group", MD9_DEFAULT_USER)) {
		say(s, "ok", "user and group %s exist", MD9_DEFAULT_USER);
		return;
	}
	say(s, "create", "system user and group %s (md9 drops to it after binding)",
	    MD9_DEFAULT_USER);
	s->changes++;
	if (s->o->dry_run)
		return;
	/* The "u" line of the sysusers.d file md9 ships. */
	u = strstr(md9_asset_sysusers, "\nu ");
	u = u ? u + 1 : md9_asset_sysusers;
	ul = strcspn(u, "\n");
	snprintf(uline, sizeof(uline), "%.*s", (int)ul, u);
	snprintf(rootopt, sizeof(rootopt), "--root=%s", s->live ? "/" : s->root);
	if (have_prog("systemd-sysusers", prog, sizeof(prog))) {
		char *argv[] = {prog, rootopt, "--inline", uline, NULL};
		rc = run(s, argv);
	}
	if (rc != 0 && have_prog("useradd", prog, sizeof(prog))) {
		char *argv[] = {prog,
		                "--system",
		                "--user-group",
		                "--home-dir",
		                "/nonexistent",
		                "--no-create-home",
		                "--shell",
		                "/usr/sbin/nologin",
		                "--comment",
		                "md9 Hyper-V Enhanced Session relay",
		                NULL,
		                NULL,
		                NULL};
		size_t k = 10;
		if (!s->live) {
			argv[k++] = "--prefix";
			argv[k++] = (char *)s->root;
		}
		char *full[16];
		size_t j = 0;
		for (; j < k; j++)
			full[j] = argv[j];
		full[j++] = MD9_DEFAULT_USER;
		full[j] = NULL;
		rc = run(s, full);
	}
	if (rc != 0 && s->live && have_prog("adduser", prog, sizeof(prog))) {
		char *argv[] = {prog,     "--system",     "--group",        "--no-create-home",
		                "--home", "/nonexistent", MD9_DEFAULT_USER, NULL};
		rc = run(s, argv);
	}
	if (!passwd_has(s, "/etc/passwd", MD9_DEFAULT_USER))
		failed(
		    s,
		    "could not create the user %s (no systemd-sysusers, useradd or adduser worked)",
		    MD9_DEFAULT_USER);
}

/* Is `user` listed in `group`'s member list under the root? -1: no group. */
static int group_has(struct setup *s, const char *group, const char *user)
{
	char p[PATH_MAX];

	return md9_passwd_member(rp(s, p, sizeof(p), "/etc/group"), group, user);
}

/* md9 in group md9-status (it gives the status socket to that group) and,
 * when xrdp and md9 meet on xrdp's socket (0660, group xrdp), in xrdp. */
static void step_groups(struct setup *s)
{
	const char *groups[] = {MD9_DEFAULT_STATUS_GROUP, s->want_unix ? "xrdp" : NULL};
	char prog[PATH_MAX];

	for (size_t i = 0; i < 2 && groups[i]; i++) {
		int has = group_has(s, groups[i], MD9_DEFAULT_USER);

		if (has == 1) {
			say(s, "ok", "user %s is in group %s", MD9_DEFAULT_USER, groups[i]);
			continue;
		}
		if (has < 0 && i == 1)
			continue; /* no group xrdp: xrdp is not installed */
		if (has < 0) {
			say(s, "create", "group %s (may ask md9 status; nothing else)", groups[i]);
			s->changes++;
			if (!s->o->dry_run && have_prog("groupadd", prog, sizeof(prog))) {
				char *argv[] = {prog,
				                "--system",
				                "--prefix",
				                (char *)(s->live ? "/" : s->root),
				                (char *)groups[i],
				                NULL};
				if (run(s, argv) != 0)
					failed(s, "groupadd %s failed", groups[i]);
			}
		}
		say(s, "add", "user %s to group %s%s", MD9_DEFAULT_USER, groups[i],
		    i == 1 ? " (xrdp's socket is 0660, group xrdp)" : "");
		s->changes++;
		if (s->o->dry_run)
			continue;
		if (!have_prog("usermod", prog, sizeof(prog))) {
			failed(s, "usermod not found: add %s to group %s yourself",
			       MD9_DEFAULT_USER, groups[i]);
			continue;
		}
		{
			char *argv[] = {prog,
			                "--prefix",
			                (char *)(s->live ? "/" : s->root),
			                "-a",
			                "-G",
			                (char *)groups[i],
			                MD9_DEFAULT_USER,
			                NULL};
			if (run(s, argv) != 0 || group_has(s, groups[i], MD9_DEFAULT_USER) != 1)
				failed(s, "adding %s to group %s failed", MD9_DEFAULT_USER,
				       groups[i]);
		}
	}
}

static void step_sysusers(struct setup *s)
{
	static const char *const packaged[] = {"/usr/lib/sysusers.d/md9.conf",
	                                       "/lib/sysusers.d/md9.conf",
	                                       "/etc/sysusers.d/md9.conf", NULL};

	install_unless(s, packaged, "/etc/sysusers.d/md9.conf", md9_asset_sysusers, 0644,
	               "the md9 user, for systemd-sysusers");
}

static void step_modules(struct setup *s)
{
	static const char *const packaged[] = {"/usr/lib/modules-load.d/md9.conf",
	                                       "/lib/modules-load.d/md9.conf",
	                                       "/etc/modules-load.d/md9.conf", NULL};
	char prog[PATH_MAX];

	install_unless(s, packaged, "/etc/modules-load.d/md9.conf", md9_asset_modules_load, 0644,
	               "loads uio_hv_generic at boot");
	if (!s->live)
		return;
	if (!exists("/sys/bus/vmbus")) {
		say(s, "note",
		    "no VMBus here (not a Hyper-V guest): uio_hv_generic not loaded now");
		return;
	}
	if (exists("/sys/bus/vmbus/drivers/uio_hv_generic")) {
		say(s, "ok", "uio_hv_generic is loaded");
		return;
	}
	s->changes++;
	if (s->o->dry_run) {
		say(s, "load", "uio_hv_generic (modprobe)");
		return;
	}
	if (!have_prog("modprobe", prog, sizeof(prog))) {
		failed(s, "modprobe not found: load uio_hv_generic yourself");
		return;
	}
	{
		char *argv[] = {prog, "uio_hv_generic", NULL};
		if (run(s, argv) != 0)
			failed(s, "modprobe uio_hv_generic failed: does this kernel ship it? (md9 "
			          "doctor)");
	}
}

/* Any SynthRdp device not bound to uio_hv_generic (live only)? */
static bool unbound_device(void)
{
	static const struct md9_guid *const classes[] = {&md9_guid_control_class,
	                                                 &md9_guid_data_class};
	bool any = false;

	for (size_t c = 0; c < 2 && !any; c++) {
		struct md9_vmbus_dev *devs;
		size_t n;
		if (md9_sysfs_scan("/sys/bus/vmbus/devices", classes[c], 1, &devs, &n) < 0)
			continue;
		for (size_t i = 0; i < n && !any; i++) {
			char p[PATH_MAX], link[PATH_MAX];
			ssize_t l;
			snprintf(p, sizeof(p), "/sys/bus/vmbus/devices/%s/driver", devs[i].name);
			l = readlink(p, link, sizeof(link) - 1);
			if (l < 0) {
				any = true;
				break;
			}
			link[l] = '\0';
			any = !strstr(link, "/uio_hv_generic");
		}
		free(devs);
	}
	return any;
}

static void step_udev(struct setup *s)
{
	static const char *const packaged[] = {"/usr/lib/udev/rules.d/60-md9.rules",
	                                       "/lib/udev/rules.d/60-md9.rules",
	                                       "/etc/udev/rules.d/60-md9.rules", NULL};
	char prog[PATH_MAX];
	char *rules = expand_bin(md9_asset_udev_rules, s->self);
	bool installed;

	if (!s->self_ok) {
		free(rules);
		failed(s, "not installing 60-md9.rules: its RUN+= would name %s (see above)",
		       s->self);
		return;
	}
	if (!rules) {
		failed(s, "out of memory");
		return;
	}
	installed =
	    install_unless(s, packaged, "/etc/udev/rules.d/60-md9.rules", rules, 0644,
	                   "binds the SynthRdp classes at boot, /dev/uioN to user md9 alone");
	free(rules);
	if (!s->live)
		return;
	if (installed && exists("/run/udev/control") && have_prog("udevadm", prog, sizeof(prog))) {
		if (s->o->dry_run) {
			say(s, "run", "udevadm control --reload; udevadm trigger (vmbus, uio)");
		} else {
			char *a1[] = {prog, "control", "--reload", NULL};
			char *a2[] = {prog, "trigger", "--action=add", "--subsystem-match=vmbus",
			              NULL};
			char *a3[] = {prog, "trigger", "--action=add", "--subsystem-match=uio",
			              NULL};
			if (run(s, a1) != 0 || run(s, a2) != 0 || run(s, a3) != 0)
				failed(s, "udevadm failed");
		}
	}
	if (exists("/sys/bus/vmbus/drivers/uio_hv_generic") && unbound_device()) {
		say(s, "bind", "the SynthRdp classes to uio_hv_generic now (md9 bind-classes)");
		s->changes++;
		if (!s->o->dry_run && md9_bind_classes("/sys") != 0)
			failed(s, "binding the classes failed (see above)");
	}
}

static const char *unit_paths[] = {
    "/etc/systemd/system/md9.service", "/usr/lib/systemd/system/md9.service",
    "/lib/systemd/system/md9.service", "/usr/local/lib/systemd/system/md9.service", NULL};

static void step_unit(struct setup *s)
{
	static const char wants[] = "/etc/systemd/system/multi-user.target.wants/md9.service";
	char p[PATH_MAX], prog[PATH_MAX];
	const char *unit;
	char *text = expand_bin(md9_asset_service, s->self);
	bool wrote;
	int err;

	if (!s->self_ok) {
		free(text);
		failed(s, "not installing md9.service: its ExecStart= would name %s (see above)",
		       s->self);
		return;
	}
	if (!text) {
		failed(s, "out of memory");
		return;
	}
	wrote = install_unless(s, unit_paths, "/etc/systemd/system/md9.service", text, 0644,
	                       "the md9 service");
	free(text);
	unit = find_installed(s, unit_paths, p, sizeof(p));
	if (!unit)
		unit = "/etc/systemd/system/md9.service"; /* dry run */

	if (s->live && s->systemd && have_prog("systemctl", prog, sizeof(prog))) {
		char *reload[] = {prog, "daemon-reload", NULL};
		char *enabled[] = {prog, "is-enabled", "--quiet", "md9.service", NULL};
		char *active[] = {prog, "is-active", "--quiet", "md9.service", NULL};
		char *enable[] = {prog, "enable", "--now", "md9.service", NULL};
		char *start[] = {prog, "start", "md9.service", NULL};
		bool en, ac;

		if (wrote && !s->o->dry_run)
			run(s, reload);
		if (wrote && s->o->dry_run) {
			en = ac = false;
		} else {
			en = run(s, enabled) == 0;
			ac = run(s, active) == 0;
		}
		if (en && ac) {
			say(s, "ok", "md9.service is enabled and running");
			return;
		}
		s->changes++;
		if (s->o->dry_run) {
			say(s, en ? "start" : "enable", "md9.service (systemctl %s)",
			    en ? "start" : "enable --now");
			return;
		}
		if (run(s, en ? start : enable) != 0)
			failed(s, "systemctl %s md9.service failed: journalctl -u md9",
			       en ? "start" : "enable --now");
		return;
	}
	/* No running systemd (a chroot, a container, an image being built, or
	 * --root): enable as `systemctl enable` does, with the WantedBy link. */
	rp(s, p, sizeof(p), wants);
	if (exists_l(p)) {
		say(s, "ok", "md9.service is enabled (%s)", wants);
	} else {
		say(s, "enable", "md9.service (%s -> %s)", wants, unit);
		s->changes++;
		if (!s->o->dry_run) {
			char dir[PATH_MAX];
			snprintf(dir, sizeof(dir), "%s", p);
			*strrchr(dir, '/') = '\0';
			if ((err = md9_fs_mkdirs(dir)) < 0 || symlink(unit, p) < 0)
				failed(s, "linking %s: %s", p, strerror(err < 0 ? -err : errno));
		}
	}
	if (s->live)
		say(s, "note", "systemd is not running: start md9 yourself (md9 run)");
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

static void show_diff(struct setup *s, const char *path, const char *a, const char *b)
{
	char na[PATH_MAX + 4], nb[PATH_MAX + 4];

	int err;

	snprintf(na, sizeof(na), "a%s", path);
	snprintf(nb, sizeof(nb), "b%s", path);
	if ((err = md9_textdiff(s->out, na, nb, a, b)) < 0)
		say(s, "note", "no diff to show: diff -u: %s", strerror(-err));
}

static void step_xrdp(struct setup *s, enum md9_security mode)
{
	static const char ini[] = "/etc/xrdp/xrdp.ini";
	char p[PATH_MAX], bak[PATH_MAX + 16], prog[PATH_MAX];
	struct md9_xrdp_ini x;
	char *old, *neu = NULL;
	int err, changed;

	rp(s, p, sizeof(p), ini);
	old = md9_textfile_read(p, SETUP_FILE_MAX, NULL, &err);
	if (!old) {
		say(s, "note",
		    "%s: %s: xrdp is not installed (apt-get install xrdp), or md9 uses "
		    "another RDP server",
		    ini, strerror(-err));
		return;
	}
	md9_xrdp_ini_read(p, &x);
	if (!(neu = strdup(old))) {
		failed(s, "out of memory");
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
		failed(s, "out of memory");
		goto out;
	}
	if (!changed) {
		say(s, "ok", "%s fits md9's %s mode", ini, md9_security_name(mode));
		goto out;
	}
	snprintf(bak, sizeof(bak), "%s.md9-backup", p);
	say(s, "edit", "%s for md9's %s mode (backup %s.md9-backup%s):", ini,
	    md9_security_name(mode), ini, exists(bak) ? ", kept from an earlier run" : "");
	s->changes++;
	show_diff(s, ini, old, neu);
	if (s->o->dry_run)
		goto out;
	if (!exists(bak) && (err = md9_fs_backup(p, bak)) < 0) {
		failed(s, "writing the backup %s: %s", bak, strerror(-err));
		goto out;
	}
	if ((err = md9_fs_write_atomic(p, neu, 0644)) < 0) {
		failed(s, "writing %s: %s", p, strerror(-err));
		goto out;
	}
	if (s->live && s->systemd && have_prog("systemctl", prog, sizeof(prog))) {
		char *argv[] = {prog, "try-restart", "xrdp.service", NULL};
		run(s, argv);
	} else {
		say(s, "note", "restart xrdp to apply it");
	}
out:
	free(old);
	free(neu);
}

/* /etc/md9/md9.conf: the example when missing; `security` when --security
 * names another mode than the file. */
static void step_config(struct setup *s, const char *want_security, enum md9_security file_mode,
                        const char *want_backend, const char *file_backend)
{
	static const char conf[] = "/etc/md9/md9.conf";
	char p[PATH_MAX];
	char *cur, *neu = NULL;
	bool had;
	int err, changed = 0;

	rp(s, p, sizeof(p), conf);
	cur = md9_textfile_read(p, SETUP_FILE_MAX, NULL, &err);
	had = cur != NULL;
	if (!had && !(cur = md9_config_template_text())) {
		failed(s, "out of memory");
		return;
	}
	/* md9.conf's keys before any header count as [md9] (libinih, config.c) */
	if (!(neu = strdup(cur))) {
		failed(s, "out of memory");
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
		failed(s, "out of memory");
		goto out;
	}
	if (!had) {
		say(s, "install", "%s: md9's configuration, every setting documented%s%s%s%s", conf,
		    want_security ? ", with security = " : "", want_security ? want_security : "",
		    want_backend ? ", backend = " : "", want_backend ? want_backend : "");
		s->changes++;
		if (!s->o->dry_run && (err = md9_fs_write_atomic(p, neu, 0644)) < 0)
			failed(s, "writing %s: %s", p, strerror(-err));
	} else if (changed > 0) {
		say(s, "edit", "%s:", conf);
		s->changes++;
		show_diff(s, conf, cur, neu);
		if (!s->o->dry_run && (err = md9_fs_write_atomic(p, neu, 0644)) < 0)
			failed(s, "writing %s: %s", p, strerror(-err));
	} else {
		say(s, "ok", "%s (security %s, backend %s)", conf, md9_security_name(file_mode),
		    file_backend);
	}
out:
	free(cur);
	free(neu);
}

int md9_setup(const struct md9_setup_opts *o, FILE *out)
{
	struct setup s = {.o = o, .out = out};
	struct md9_config cfg;
	enum md9_security mode;
	char p[PATH_MAX], real[PATH_MAX];
	ssize_t n;

	if (!o->root || !*o->root || strcmp(o->root, "/") == 0) {
		s.root = "";
		s.live = true;
	} else {
		if (!realpath(o->root, real)) {
			fprintf(out, "md9 setup: --root %s: %s\n", o->root, strerror(errno));
			return 1;
		}
		s.root = strcmp(real, "/") == 0 ? "" : real;
		s.live = !s.root[0];
	}
	s.systemd = s.live && exists("/run/systemd/system");
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
	if (md9_config_load(&cfg, rp(&s, p, sizeof(p), "/etc/md9/md9.conf"), true) < 0) {
		fprintf(out, "md9 setup: fix %s first (see the error above)\n", p);
		return 1;
	}
	if (!o->security)
		mode = cfg.security;
	if (s.live && geteuid() != 0 && !o->dry_run)
		fprintf(out,
		        "md9 setup: not root: changing the system will fail (sudo md9 setup)\n");

	if (o->undo) {
		struct desktop_run d = {.root = s.root, .dry_run = o->dry_run, .out = out};

		fprintf(out, "md9 setup --undo%s: root %s\n", o->dry_run ? " --dry-run" : "",
		        s.live ? "/" : s.root);
		desktop_undo(&d);
		if (d.failures)
			fprintf(out, "md9 setup --undo: %u step(s) failed\n", d.failures);
		else
			fprintf(out, "md9 setup --undo: %u change(s)%s\n", d.changes,
			        o->dry_run ? " would be made; nothing was changed" : " made");
		return d.failures ? 1 : 0;
	}
	fprintf(out, "md9 setup%s: root %s, security mode %s\n", o->dry_run ? " --dry-run" : "",
	        s.live ? "/" : s.root, md9_security_name(mode));
	{
		/* root will run this program from the unit and the udev rule */
		char full[PATH_MAX * 2], resolved[PATH_MAX], why[PATH_MAX * 2 + 200];
		md9_path_join(full, sizeof(full), s.root, s.self);
		s.self_ok = md9_fs_root_only(full, resolved, why, sizeof(why));
		if (s.self_ok)
			say(&s, "note",
			    "md9 for ExecStart= and RUN+=: %s (root's, only root can change "
			    "it)",
			    s.self);
		else
			failed(&s,
			       "md9 for ExecStart= and RUN+=: %s (install md9 as root: cmake "
			       "--install, "
			       "or the package; then run that md9 setup)",
			       why);
	}
	s.want_unix = !o->tcp && exists(rp(&s, p, sizeof(p), "/etc/xrdp/xrdp.ini"));
	step_sysusers(&s);
	step_user(&s);
	step_groups(&s);
	step_modules(&s);
	step_udev(&s);
	step_config(&s, o->security, cfg.security, s.want_unix ? "unix:" MD9_XRDP_SOCKET : NULL,
	            cfg.backend.spec);
	step_unit(&s);
	step_xrdp(&s, mode);
	{
		struct desktop_run d = {.root = s.root, .dry_run = o->dry_run, .out = out};
		desktop_setup(&d);
		s.changes += d.changes;
		s.failures += d.failures;
	}

	if (s.failures)
		fprintf(out, "md9 setup: %u step(s) failed, %u change(s)%s\n", s.failures,
		        s.changes, o->dry_run ? " would be made" : " made");
	else if (!s.changes)
		fprintf(out, "md9 setup: nothing to do: everything is in place\n");
	else if (o->dry_run)
		fprintf(out,
		        "md9 setup --dry-run: %u change(s) would be made; nothing was changed\n",
		        s.changes);
	else
		fprintf(out, "md9 setup: %u change(s) made; check with: md9 doctor\n", s.changes);
	return s.failures ? 1 : 0;
}

int md9_bind_classes(const char *sys_root)
{
	static const struct md9_guid *const classes[] = {&md9_guid_control_class,
	                                                 &md9_guid_data_class};
	char path[PATH_MAX], text[MD9_GUID_STRLEN + 1];
	int rc = 0;

	snprintf(path, sizeof(path), "%s/bus/vmbus/drivers/uio_hv_generic/new_id", sys_root);
	if (!exists(path)) {
		log_err("%s missing: uio_hv_generic is not loaded (modprobe uio_hv_generic)", path);
		return 1;
	}
	for (size_t i = 0; i < 2; i++) {
		int err;

		md9_guid_format(classes[i], text);
		strcat(text, "\n");
		err = md9_sysfs_write(path, text);
		if (err == -EEXIST) {
			log_info("class %.36s: already bound to uio_hv_generic", text);
		} else if (err) {
			log_err("binding class %.36s (%s): %s%s", text, path, strerror(-err),
			        err == -EACCES || err == -EPERM ? " (needs root)" : "");
			rc = 1;
		} else {
			log_info("class %.36s bound to uio_hv_generic", text);
		}
	}
	return rc;
}
