/* How md9 setup, and its desktop steps, say what they do: one line a step,
 * "  VERB           what" ("would VERB" in a dry run when the step changes
 * something), the unified diff of a file before it is edited, and the count
 * of changes and failures that decides the summary and the exit status. */
#ifndef MD9_SETUP_REPORT_H
#define MD9_SETUP_REPORT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

struct setup_report {
	FILE *out;
	bool dry_run;
	unsigned changes, failures;
};

/* One line. change: the step changes the system ("would VERB" in a dry
 * run); it is counted by the caller. */
void setup_report_say(struct setup_report *r, bool change, const char *verb, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void setup_report_vsay(struct setup_report *r, bool change, const char *verb, const char *fmt,
                       va_list ap) __attribute__((format(printf, 4, 0)));
/* A FAILED line, counted. */
void setup_report_failed(struct setup_report *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* diff -u of a file's text before and after (NULL: the file is absent),
 * labelled a/PATH and b/PATH (or /dev/null). */
void setup_report_diff(struct setup_report *r, const char *path, const char *a, const char *b);

#endif
