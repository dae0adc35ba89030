#include "setup_report.h"

#include "textdiff.h"

#include <limits.h>
#include <string.h>

void setup_report_vsay(struct setup_report *r, bool change, const char *verb, const char *fmt,
                       va_list ap)
{
	char what[1024], v[32];

	vsnprintf(what, sizeof(what), fmt, ap);
	snprintf(v, sizeof(v), "%s%s", change && r->dry_run ? "would " : "", verb);
	fprintf(r->out, "  %-14s %s\n", v, what);
	fflush(r->out);
}

void setup_report_say(struct setup_report *r, bool change, const char *verb, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	setup_report_vsay(r, change, verb, fmt, ap);
	va_end(ap);
}

void setup_report_failed(struct setup_report *r, const char *fmt, ...)
{
	va_list ap;

	r->failures++;
	va_start(ap, fmt);
	setup_report_vsay(r, false, "FAILED", fmt, ap);
	va_end(ap);
}

void setup_report_diff(struct setup_report *r, const char *path, const char *a, const char *b)
{
	char na[PATH_MAX + 4], nb[PATH_MAX + 4];
	int err;

	snprintf(na, sizeof(na), "%s%s", a ? "a" : "/dev/null", a ? path : "");
	snprintf(nb, sizeof(nb), "%s%s", b ? "b" : "/dev/null", b ? path : "");
	if ((err = md9_textdiff(r->out, na, nb, a ? a : "", b ? b : "")) < 0)
		setup_report_say(r, false, "note", "no diff to show: diff -u: %s", strerror(-err));
}
