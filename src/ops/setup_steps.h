/* What md9 setup's steps share (setup.c): the run's context, paths under
 * the root, the report (setup_report.h), finding and running programs,
 * installing a shipped file unless a package did. The steps are in
 * setup_system.c (user, groups, modules, udev, unit) and setup_edit.c
 * (md9.conf and xrdp.ini); setup.c runs them in order. */
#ifndef MD9_SETUP_STEPS_H
#define MD9_SETUP_STEPS_H

#include "adapter.h"
#include "setup.h"
#include "setup_report.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* A file md9 setup reads or edits: whole, up to 16 MiB (no file it edits
 * is larger). */
#define SETUP_FILE_MAX (16u << 20)

struct setup {
	const struct md9_setup_opts *o;
	struct setup_report rep;
	const struct md9_roots *r; /* the system's paths (--root) */
	const char *root;          /* its top: "" for "/" so that root + "/etc" works */
	bool live;                 /* the real system: act on it as it runs too */
	bool systemd;              /* systemd runs (live only) */
	bool want_unix;            /* xrdp and md9 meet on MD9_XRDP_SOCKET (not --tcp) */
	char self[PATH_MAX];
	bool self_ok; /* self is a program only root can change (fsutil.h) */
};

/* abs under the root; "" when too long. */
const char *setup_path(const struct setup *s, char *buf, size_t n, const char *abs);
/* One line of the report; verbs other than ok, note, FAILED and skip are
 * changes ("would VERB" in a dry run). */
void setup_say(struct setup *s, const char *verb, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void setup_failed(struct setup *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* name in /usr/sbin, /usr/bin, /sbin or /bin, its path to out. */
bool setup_have_prog(const char *name, char *out, size_t cap);
/* Run argv (argv[0] a full path); its output goes to the report's. Exit
 * status, or -errno when it could not run. */
int setup_run(struct setup *s, char *const argv[]);
/* tmpl with every @MD9_BIN@ replaced by bin, malloc'ed (NULL: no memory). */
char *setup_expand_bin(const char *tmpl, const char *bin);
/* The first of `paths` (absolute, under the root) that exists, or NULL. */
const char *setup_find_installed(struct setup *s, const char *const *paths, char *buf, size_t n);
/* Install `text` at `dest` unless one of `packaged` exists; whether it
 * was (or, in a dry run, would be) written. */
bool setup_install_unless(struct setup *s, const char *const *packaged, const char *dest,
                          const char *text, mode_t mode, const char *why);

/* setup_system.c */
void setup_system_sysusers(struct setup *s);
void setup_system_user(struct setup *s);
void setup_system_groups(struct setup *s);
void setup_system_modules(struct setup *s);
void setup_system_udev(struct setup *s);
void setup_system_unit(struct setup *s);

/* setup_edit.c */
void setup_edit_config(struct setup *s, const char *want_security, enum md9_security file_mode,
                       const char *want_backend, const char *file_backend);
void setup_edit_xrdp(struct setup *s, enum md9_security mode);

#endif
