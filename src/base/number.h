/* The one parser for the numbers md9 reads from people and from the kernel:
 * md9.conf values, command-line options, backend ports, sysfs attributes.
 * Strict on purpose: a sign, a space, a base prefix or anything after the
 * digits is refused, so a value means exactly what it looks like; digits
 * are always decimal ("010" is ten). */
#ifndef MD9_NUMBER_H
#define MD9_NUMBER_H

#include <stdint.h>

/* s is decimal digits only (at least one). 0 with *out set; -EINVAL when s
 * is not such a number; -ERANGE when it is, but outside min..max (or
 * beyond 64 bits). */
int md9_number_parse(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* The value of one hexadecimal digit (either case), -1 for another char. */
int md9_number_hexdigit(char c);

#endif
