/* What md9 setup's steps share: the run's context, paths under the root,
 * the report (setup_report.h), finding and running programs, installing a
 * shipped file unless a package did. setup.c and every file of steps
 * (setup_steps.h) call down into it. */
#ifndef MD9_SETUP_TOOLS_H
#define MD9_SETUP_TOOLS_H

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

/* Does p exist? */
bool setup_tools_exists(const char *p);
/* abs under the root; "" when too long. */
const char *setup_tools_path(const struct setup *s, char *buf, size_t n, const char *abs);
/* One line of the report; verbs other than ok, note, FAILED and skip are
 * changes ("would VERB" in a dry run). */
void setup_tools_say(struct setup *s, const char *verb, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void setup_tools_failed(struct setup *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* name in /usr/sbin, /usr/bin, /sbin or /bin, its path to out. */
bool setup_tools_have_prog(const char *name, char *out, size_t cap);
/* Run argv (argv[0] a full path); its output goes to the report's. Exit
 * status, or -errno when it could not run. */
int setup_tools_run(struct setup *s, char *const argv[]);
/* tmpl with every @MD9_BIN@ replaced by bin, malloc'ed (NULL: no memory). */
char *setup_tools_expand_bin(const char *tmpl, const char *bin);
/* The first of `paths` (absolute, under the root) that exists, or NULL. */
const char *setup_tools_find_installed(struct setup *s, const char *const *paths, char *buf,
                                       size_t n);
/* Install `text` at `dest` unless one of `packaged` exists; whether it
 * was (or, in a dry run, would be) written. */
bool setup_tools_install_unless(struct setup *s, const char *const *packaged, const char *dest,
                                const char *text, mode_t mode, const char *why);

#endif
