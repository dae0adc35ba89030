/* md9 doctor's report: one line a check, "ok", "warn" or "FAIL", what was
 * found and, unless ok, the fix; the run counts each verdict for the
 * summary. Used by every file of doctor's checks (doctor_checks.h). */
#ifndef MD9_DOCTOR_REPORT_H
#define MD9_DOCTOR_REPORT_H

enum verdict { V_OK, V_WARN, V_FAIL };

struct doctor;

/* One line: "ok|warn|FAIL  CHECK  what" and, unless ok, " -- fix: FIX". */
void doctor_report(struct doctor *dr, enum verdict v, const char *check, const char *fix,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* s, or "(none)" when empty. */
const char *doctor_report_str(const char *s);

#endif
