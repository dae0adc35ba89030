/* md9 setup's steps on the system itself: the md9 user and its groups,
 * the sysusers.d entry, loading uio_hv_generic, the udev rule (and binding
 * the classes now), the unit and its enablement (setup_steps.h). */
#include "bind.h"
#include "config.h"
#include "fsutil.h"
#include "guid.h"
#include "passwd.h"
#include "path.h"
#include "privdrop.h"
#include "setup_steps.h"
#include "sysfs.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool exists_l(const char *p)
{
	struct stat st;

	return lstat(p, &st) == 0;
}

/* Is there an entry `name` in the passwd- or group-format file under the root? */
static bool passwd_has(struct setup *s, const char *file, const char *name)
{
	char p[PATH_MAX];

	return md9_passwd_id(setup_tools_path(s, p, sizeof(p), file), name) >= 0;
}

void setup_system_user(struct setup *s)
{
	char prog[PATH_MAX], rootopt[PATH_MAX + 8], uline[512];
	const char *u;
	size_t ul;
	int rc = -1;

	if (passwd_has(s, "/etc/passwd", MD9_DEFAULT_USER) &&
	    passwd_has(s, "/etc/group", MD9_DEFAULT_USER)) {
		setup_tools_say(s, "ok", "user and group %s exist", MD9_DEFAULT_USER);
		return;
	}
	setup_tools_say(s, "create", "system user and group %s (md9 drops to it after binding)",
	                MD9_DEFAULT_USER);
	s->rep.changes++;
	if (s->o->dry_run)
		return;
	/* The "u" line of the sysusers.d file md9 ships. */
	u = strstr(md9_asset_sysusers, "\nu ");
	u = u ? u + 1 : md9_asset_sysusers;
	ul = strcspn(u, "\n");
	snprintf(uline, sizeof(uline), "%.*s", (int)ul, u);
	snprintf(rootopt, sizeof(rootopt), "--root=%s", s->live ? "/" : s->root);
	if (setup_tools_have_prog("systemd-sysusers", prog, sizeof(prog))) {
		char *argv[] = {prog, rootopt, "--inline", uline, NULL};
		rc = setup_tools_run(s, argv);
	}
	if (rc != 0 && setup_tools_have_prog("useradd", prog, sizeof(prog))) {
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
		rc = setup_tools_run(s, full);
	}
	if (rc != 0 && s->live && setup_tools_have_prog("adduser", prog, sizeof(prog))) {
		char *argv[] = {prog,     "--system",     "--group",        "--no-create-home",
		                "--home", "/nonexistent", MD9_DEFAULT_USER, NULL};
		rc = setup_tools_run(s, argv);
	}
	if (!passwd_has(s, "/etc/passwd", MD9_DEFAULT_USER))
		setup_tools_failed(
		    s,
		    "could not create the user %s (no systemd-sysusers, useradd or adduser worked)",
		    MD9_DEFAULT_USER);
}

/* Is `user` listed in `group`'s member list under the root? -1: no group. */
static int group_has(struct setup *s, const char *group, const char *user)
{
	char p[PATH_MAX];

	return md9_passwd_member(setup_tools_path(s, p, sizeof(p), "/etc/group"), group, user);
}

/* md9 in group md9-status (it gives the status socket to that group) and,
 * when xrdp and md9 meet on xrdp's socket (0660, group xrdp), in xrdp. */
void setup_system_groups(struct setup *s)
{
	const char *groups[] = {MD9_DEFAULT_STATUS_GROUP, s->want_unix ? "xrdp" : NULL};
	char prog[PATH_MAX];

	for (size_t i = 0; i < 2 && groups[i]; i++) {
		int has = group_has(s, groups[i], MD9_DEFAULT_USER);

		if (has == 1) {
			setup_tools_say(s, "ok", "user %s is in group %s", MD9_DEFAULT_USER,
			                groups[i]);
			continue;
		}
		if (has < 0 && i == 1)
			continue; /* no group xrdp: xrdp is not installed */
		if (has < 0) {
			setup_tools_say(s, "create", "group %s (may ask md9 status; nothing else)",
			                groups[i]);
			s->rep.changes++;
			if (!s->o->dry_run &&
			    setup_tools_have_prog("groupadd", prog, sizeof(prog))) {
				char *argv[] = {prog,
				                "--system",
				                "--prefix",
				                (char *)(s->live ? "/" : s->root),
				                (char *)groups[i],
				                NULL};
				if (setup_tools_run(s, argv) != 0)
					setup_tools_failed(s, "groupadd %s failed", groups[i]);
			}
		}
		setup_tools_say(s, "add", "user %s to group %s%s", MD9_DEFAULT_USER, groups[i],
		                i == 1 ? " (xrdp's socket is 0660, group xrdp)" : "");
		s->rep.changes++;
		if (s->o->dry_run)
			continue;
		if (!setup_tools_have_prog("usermod", prog, sizeof(prog))) {
			setup_tools_failed(s, "usermod not found: add %s to group %s yourself",
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
			if (setup_tools_run(s, argv) != 0 ||
			    group_has(s, groups[i], MD9_DEFAULT_USER) != 1)
				setup_tools_failed(s, "adding %s to group %s failed",
				                   MD9_DEFAULT_USER, groups[i]);
		}
	}
}

void setup_system_sysusers(struct setup *s)
{
	static const char *const packaged[] = {"/usr/lib/sysusers.d/md9.conf",
	                                       "/lib/sysusers.d/md9.conf",
	                                       "/etc/sysusers.d/md9.conf", NULL};

	setup_tools_install_unless(s, packaged, "/etc/sysusers.d/md9.conf", md9_asset_sysusers,
	                           0644, "the md9 user, for systemd-sysusers");
}

void setup_system_modules(struct setup *s)
{
	static const char *const packaged[] = {"/usr/lib/modules-load.d/md9.conf",
	                                       "/lib/modules-load.d/md9.conf",
	                                       "/etc/modules-load.d/md9.conf", NULL};
	char prog[PATH_MAX], p[PATH_MAX];

	setup_tools_install_unless(s, packaged, "/etc/modules-load.d/md9.conf",
	                           md9_asset_modules_load, 0644, "loads uio_hv_generic at boot");
	if (!s->live)
		return;
	if (!setup_tools_exists(md9_path_join(p, sizeof(p), s->r->sys, "bus/vmbus"))) {
		setup_tools_say(
		    s, "note",
		    "no VMBus here (not a Hyper-V guest): uio_hv_generic not loaded now");
		return;
	}
	if (setup_tools_exists(
	        md9_path_join(p, sizeof(p), s->r->sys, "bus/vmbus/drivers/uio_hv_generic"))) {
		setup_tools_say(s, "ok", "uio_hv_generic is loaded");
		return;
	}
	s->rep.changes++;
	if (s->o->dry_run) {
		setup_tools_say(s, "load", "uio_hv_generic (modprobe)");
		return;
	}
	if (!setup_tools_have_prog("modprobe", prog, sizeof(prog))) {
		setup_tools_failed(s, "modprobe not found: load uio_hv_generic yourself");
		return;
	}
	{
		char *argv[] = {prog, "uio_hv_generic", NULL};
		if (setup_tools_run(s, argv) != 0)
			setup_tools_failed(
			    s, "modprobe uio_hv_generic failed: does this kernel ship it? (md9 "
			       "doctor)");
	}
}

/* Any SynthRdp device not bound to uio_hv_generic (live only)? */
static bool unbound_device(struct setup *s)
{
	static const struct md9_guid *const classes[] = {&md9_guid_control_class,
	                                                 &md9_guid_data_class};
	char devices[PATH_MAX];
	bool any = false;

	md9_path_join(devices, sizeof(devices), s->r->sys, "bus/vmbus/devices");
	for (size_t c = 0; c < 2 && !any; c++) {
		struct md9_vmbus_dev *devs;
		size_t n;
		if (md9_sysfs_scan(devices, classes[c], 1, &devs, &n) < 0)
			continue;
		for (size_t i = 0; i < n && !any; i++) {
			char p[PATH_MAX], link[PATH_MAX];
			ssize_t l;
			md9_path_fmt(p, sizeof(p), "%s/%s/driver", devices, devs[i].name);
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

void setup_system_udev(struct setup *s)
{
	static const char *const packaged[] = {"/usr/lib/udev/rules.d/60-md9.rules",
	                                       "/lib/udev/rules.d/60-md9.rules",
	                                       "/etc/udev/rules.d/60-md9.rules", NULL};
	char prog[PATH_MAX], p[PATH_MAX];
	char *rules = setup_tools_expand_bin(md9_asset_udev_rules, s->self);
	bool installed;

	if (!s->self_ok) {
		free(rules);
		setup_tools_failed(
		    s, "not installing 60-md9.rules: its RUN+= would name %s (see above)", s->self);
		return;
	}
	if (!rules) {
		setup_tools_failed(s, "out of memory");
		return;
	}
	installed = setup_tools_install_unless(
	    s, packaged, "/etc/udev/rules.d/60-md9.rules", rules, 0644,
	    "binds the SynthRdp classes at boot, /dev/uioN to user md9 alone");
	free(rules);
	if (!s->live)
		return;
	if (installed &&
	    setup_tools_exists(md9_path_join(p, sizeof(p), s->r->run, "udev/control")) &&
	    setup_tools_have_prog("udevadm", prog, sizeof(prog))) {
		if (s->o->dry_run) {
			setup_tools_say(s, "run",
			                "udevadm control --reload; udevadm trigger (vmbus, uio)");
		} else {
			char *a1[] = {prog, "control", "--reload", NULL};
			char *a2[] = {prog, "trigger", "--action=add", "--subsystem-match=vmbus",
			              NULL};
			char *a3[] = {prog, "trigger", "--action=add", "--subsystem-match=uio",
			              NULL};
			if (setup_tools_run(s, a1) != 0 || setup_tools_run(s, a2) != 0 ||
			    setup_tools_run(s, a3) != 0)
				setup_tools_failed(s, "udevadm failed");
		}
	}
	if (setup_tools_exists(
	        md9_path_join(p, sizeof(p), s->r->sys, "bus/vmbus/drivers/uio_hv_generic")) &&
	    unbound_device(s)) {
		setup_tools_say(s, "bind",
		                "the SynthRdp classes to uio_hv_generic now (md9 bind-classes)");
		s->rep.changes++;
		if (!s->o->dry_run && md9_bind_classes(s->r) != 0)
			setup_tools_failed(s, "binding the classes failed (see above)");
	}
}

static const char *unit_paths[] = {
    "/etc/systemd/system/md9.service", "/usr/lib/systemd/system/md9.service",
    "/lib/systemd/system/md9.service", "/usr/local/lib/systemd/system/md9.service", NULL};

void setup_system_unit(struct setup *s)
{
	static const char wants[] = "/etc/systemd/system/multi-user.target.wants/md9.service";
	char p[PATH_MAX], prog[PATH_MAX];
	const char *unit;
	char *text = setup_tools_expand_bin(md9_asset_service, s->self);
	bool wrote;
	int err;

	if (!s->self_ok) {
		free(text);
		setup_tools_failed(
		    s, "not installing md9.service: its ExecStart= would name %s (see above)",
		    s->self);
		return;
	}
	if (!text) {
		setup_tools_failed(s, "out of memory");
		return;
	}
	wrote = setup_tools_install_unless(s, unit_paths, "/etc/systemd/system/md9.service", text,
	                                   0644, "the md9 service");
	free(text);
	unit = setup_tools_find_installed(s, unit_paths, p, sizeof(p));
	if (!unit)
		unit = "/etc/systemd/system/md9.service"; /* dry run */

	if (s->live && s->systemd && setup_tools_have_prog("systemctl", prog, sizeof(prog))) {
		char *reload[] = {prog, "daemon-reload", NULL};
		char *enabled[] = {prog, "is-enabled", "--quiet", "md9.service", NULL};
		char *active[] = {prog, "is-active", "--quiet", "md9.service", NULL};
		char *enable[] = {prog, "enable", "--now", "md9.service", NULL};
		char *start[] = {prog, "start", "md9.service", NULL};
		bool en, ac;

		if (wrote && !s->o->dry_run)
			setup_tools_run(s, reload);
		if (wrote && s->o->dry_run) {
			en = ac = false;
		} else {
			en = setup_tools_run(s, enabled) == 0;
			ac = setup_tools_run(s, active) == 0;
		}
		if (en && ac) {
			setup_tools_say(s, "ok", "md9.service is enabled and running");
			return;
		}
		s->rep.changes++;
		if (s->o->dry_run) {
			setup_tools_say(s, en ? "start" : "enable", "md9.service (systemctl %s)",
			                en ? "start" : "enable --now");
			return;
		}
		if (setup_tools_run(s, en ? start : enable) != 0)
			setup_tools_failed(s, "systemctl %s md9.service failed: journalctl -u md9",
			                   en ? "start" : "enable --now");
		return;
	}
	/* No running systemd (a chroot, a container, an image being built, or
	 * --root): enable as `systemctl enable` does, with the WantedBy link. */
	setup_tools_path(s, p, sizeof(p), wants);
	if (exists_l(p)) {
		setup_tools_say(s, "ok", "md9.service is enabled (%s)", wants);
	} else {
		setup_tools_say(s, "enable", "md9.service (%s -> %s)", wants, unit);
		s->rep.changes++;
		if (!s->o->dry_run) {
			char dir[PATH_MAX];
			snprintf(dir, sizeof(dir), "%s", p);
			*strrchr(dir, '/') = '\0';
			if ((err = md9_fs_mkdirs(dir)) < 0 || symlink(unit, p) < 0)
				setup_tools_failed(s, "linking %s: %s", p,
				                   strerror(err < 0 ? -err : errno));
		}
	}
	if (s->live)
		setup_tools_say(s, "note", "systemd is not running: start md9 yourself (md9 run)");
}
