#include "desktop.h"

#include "fsutil.h"
#include "path.h"
#include "setup.h"
#include "setup_report.h"
#include "textfile.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The files the desktop steps edit are small configuration files. */
#define DESKTOP_FILE_MAX (1u << 20)

static const struct desktop_step *const steps[] = {&fusemount_step, &xwrapper_step, &colord_step};
#define NSTEPS (sizeof(steps) / sizeof(steps[0]))

/* path under root; "" when too long. */
static void full(const char *root, const char *path, char *buf, size_t n)
{
	md9_path_join(buf, n, root, path);
}

char *desktop_read(const char *root, const char *path)
{
	char p[PATH_MAX];
	int err;

	full(root, path, p, sizeof(p));
	return p[0] ? md9_textfile_read(p, DESKTOP_FILE_MAX, NULL, &err) : NULL;
}

bool desktop_exists(const char *root, const char *path)
{
	char p[PATH_MAX];

	full(root, path, p, sizeof(p));
	return p[0] && access(p, F_OK) == 0;
}

static void backup_path(const char *root, const char *path, char *buf, size_t n)
{
	if ((size_t)snprintf(buf, n, "%s%s.md9-backup", root, path) >= n)
		buf[0] = '\0';
}

static void apply(struct desktop_run *r, const struct desktop_step *st)
{
	char path[PATH_MAX], why[512], p[PATH_MAX], bak[PATH_MAX + 16];
	char *(*edit)(const char *);
	char *cur = NULL, *neu = NULL;
	enum desktop_verdict v = st->decide(r->root, path, sizeof(path), why, sizeof(why));
	int err;

	if (v == DESKTOP_NA) {
		setup_report_say(&r->rep, false, "skip", "%s: %s", st->name, why);
		return;
	}
	if (v == DESKTOP_OK) {
		setup_report_say(&r->rep, false, "ok", "%s: %s", st->name, why);
		return;
	}
	edit = st->edit_for ? st->edit_for(path) : st->edit;
	cur = desktop_read(r->root, path);
	if (!(neu = edit(cur))) {
		setup_report_failed(&r->rep, "%s: out of memory", st->name);
		goto out;
	}
	if (cur && strcmp(cur, neu) == 0) {
		setup_report_say(&r->rep, false, "ok", "%s: %s", st->name, why);
		goto out;
	}
	full(r->root, path, p, sizeof(p));
	backup_path(r->root, path, bak, sizeof(bak));
	setup_report_say(&r->rep, true, cur ? "edit" : "create", "%s (%s): %s%s", path, st->name,
	                 why,
	                 cur ? (access(bak, F_OK) == 0 ? "; backup kept from an earlier run"
	                                               : "; backup .md9-backup")
	                     : "");
	setup_report_diff(&r->rep, path, cur, neu);
	r->rep.changes++;
	if (r->rep.dry_run)
		goto out;
	if (cur && access(bak, F_OK) != 0 && (err = md9_fs_write_atomic(bak, cur, 0644)) < 0) {
		setup_report_failed(&r->rep, "writing %s: %s", bak, strerror(-err));
		goto out;
	}
	if ((err = md9_fs_write_atomic(p, neu, 0644)) < 0)
		setup_report_failed(&r->rep, "writing %s: %s", p, strerror(-err));
out:
	free(cur);
	free(neu);
}

void desktop_setup(struct desktop_run *r)
{
	for (size_t i = 0; i < NSTEPS; i++)
		apply(r, steps[i]);
}

/* Put back one path md9 may have written: from its backup when the file is
 * still what md9 made of that backup; remove it when md9 created it and it
 * is unchanged; otherwise say what to do by hand. */
static void undo_path(struct desktop_run *r, const struct desktop_step *st, const char *path)
{
	char *(*edit)(const char *) = st->edit_for ? st->edit_for(path) : st->edit;
	char p[PATH_MAX], bak[PATH_MAX + 16];
	char *cur = desktop_read(r->root, path), *old = NULL, *made = NULL;
	int err = 0;

	full(r->root, path, p, sizeof(p));
	backup_path(r->root, path, bak, sizeof(bak));
	if (access(bak, F_OK) == 0) {
		if (!(old = md9_textfile_read(bak, DESKTOP_FILE_MAX, NULL, &err)) ||
		    !(made = edit(old))) {
			setup_report_failed(&r->rep, "%s: reading %s: %s", st->name, bak,
			                    strerror(err ? -err : ENOMEM));
		} else if (cur && strcmp(cur, old) == 0) {
			setup_report_say(&r->rep, true, "remove",
			                 "%s: the file is as before md9 setup already", bak);
			r->rep.changes++;
			if (!r->rep.dry_run && unlink(bak) < 0)
				setup_report_failed(&r->rep, "removing %s: %s", bak,
				                    strerror(errno));
		} else if (!cur || strcmp(cur, made) != 0) {
			setup_report_failed(
			    &r->rep,
			    "%s changed since md9 setup edited it: compare it with %s and restore "
			    "by hand",
			    path, bak);
		} else {
			setup_report_say(&r->rep, true, "restore", "%s (%s) from %s.md9-backup",
			                 path, st->name, path);
			setup_report_diff(&r->rep, path, cur, old);
			r->rep.changes++;
			if (!r->rep.dry_run &&
			    ((err = md9_fs_write_atomic(p, old, 0644)) < 0 || unlink(bak) < 0))
				setup_report_failed(&r->rep, "restoring %s: %s", p,
				                    strerror(err < 0 ? -err : errno));
		}
	} else if (cur && (made = edit(NULL)) && strcmp(cur, made) == 0) {
		setup_report_say(&r->rep, true, "remove", "%s (%s): md9 setup created it", path,
		                 st->name);
		setup_report_diff(&r->rep, path, cur, NULL);
		r->rep.changes++;
		if (!r->rep.dry_run && unlink(p) < 0)
			setup_report_failed(&r->rep, "removing %s: %s", p, strerror(errno));
	}
	free(cur);
	free(old);
	free(made);
}

void desktop_undo(struct desktop_run *r)
{
	for (size_t i = 0; i < NSTEPS; i++) {
		const struct desktop_step *st = steps[i];
		unsigned before = r->rep.changes + r->rep.failures;

		if (st->paths) {
			for (const char *const *p = st->paths; *p; p++)
				undo_path(r, st, *p);
		} else {
			char path[PATH_MAX], why[512];
			st->decide(r->root, path, sizeof(path), why, sizeof(why));
			undo_path(r, st, path);
		}
		if (r->rep.changes + r->rep.failures == before)
			setup_report_say(&r->rep, false, "ok", "%s: nothing of md9's to undo",
			                 st->name);
	}
}
