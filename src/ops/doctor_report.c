/* md9 doctor's report, one line a check (doctor_report.h). */
#include "doctor_report.h"

#include "doctor_checks.h"

#include <stdarg.h>
#include <stdio.h>

void doctor_report(struct doctor *dr, enum verdict v, const char *check, const char *fix,
                   const char *fmt, ...)
{
	static const char *const names[] = {"ok", "warn", "FAIL"};
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	dr->n[v]++;
	fprintf(dr->out, "%-4s  %-18s %s", names[v], check, msg);
	if (v != V_OK && fix && *fix)
		fprintf(dr->out, " -- fix: %s", fix);
	fputc('\n', dr->out);
	fflush(dr->out);
}

const char *doctor_report_str(const char *s)
{
	return s && *s ? s : "(none)";
}
