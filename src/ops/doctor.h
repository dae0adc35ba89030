/* `md9 doctor`: is this guest ready for Enhanced Session over VMBus? One
 * line per check, "ok", "warn" or "FAIL", what was found and, unless ok, the
 * fix. Every file it reads lives under a root that tests point at a fake
 * tree (the hidden flags --root-sys, --root-proc, --root-etc, --root-dev,
 * --root-run, --root-lib). CPUID is asked only when the sys and proc roots
 * are the real ones. */
#ifndef MD9_DOCTOR_H
#define MD9_DOCTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct md9_roots {
	const char *sys;  /* "/sys" */
	const char *proc; /* "/proc" */
	const char *etc;  /* "/etc" */
	const char *dev;  /* "/dev" */
	const char *run;  /* "/run" */
	const char *lib;  /* "/lib" (modules/<release>/modules.dep) */
};

void md9_roots_default(struct md9_roots *r);

struct md9_doctor_opts {
	struct md9_roots roots;
	const char *config;   /* NULL: <etc>/md9/md9.conf, optional */
	const char *security; /* NULL: from the configuration */
	const char *backend;  /* NULL: from the configuration */
	int timeout_ms;       /* for the status socket and the backend, 0: 1500 */
};

/* Run every check, print one line each and a summary. Returns 0 when no
 * check failed, 1 otherwise. */
int md9_doctor(const struct md9_doctor_opts *o, FILE *out);

#endif
