/* `md9 doctor`: is this guest ready for Enhanced Session over VMBus? One
 * line per check, "ok", "warn" or "FAIL", what was found and, unless ok, the
 * fix. Every file it reads lives under a root of struct md9_roots, which
 * tests point into a fake tree (the hidden option --root DIR). CPUID and
 * uname are asked only when the roots are the real ones. */
#ifndef MD9_DOCTOR_H
#define MD9_DOCTOR_H

#include "roots.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

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
