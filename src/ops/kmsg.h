/* The kernel log as /dev/kmsg gives it (Documentation/ABI/testing/dev-kmsg):
 * one record per read(), "PRIORITY,SEQ,USEC,FLAGS;MESSAGE\n", then
 * continuation lines " KEY=VALUE\n" (SUBSYSTEM=, DEVICE=). A plain file in
 * that format (a test's fake root) reads the same way. Reading needs
 * CAP_SYSLOG where kernel.dmesg_restrict is 1 (Debian, Ubuntu). */
#ifndef MD9_KMSG_H
#define MD9_KMSG_H

#include <stdbool.h>

/* Call fn with each record's MESSAGE (NUL-terminated, no newline) from the
 * oldest the kernel still holds to the newest; stop early when fn returns
 * true. 0 when the log was read (*found: fn returned true), or -errno when it
 * cannot be opened (-EACCES/-EPERM: not allowed). */
int md9_kmsg_scan(const char *path, bool (*fn)(const char *msg, void *arg), void *arg, bool *found);

#endif
