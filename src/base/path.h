/* Building paths: a root (a fake tree in tests, "/" or "" for the real
 * system) joined with a path below it. A path that does not fit its buffer
 * is never used cut short: the result is then "" (which no open() finds). */
#ifndef MD9_PATH_H
#define MD9_PATH_H

#include <stddef.h>

/* buf = dir "/" rel, with exactly one '/' between them whatever dir ends
 * with and rel starts with ("" or "/" as dir gives "/rel"). Returns buf,
 * "" when the result does not fit in cap. */
char *md9_path_join(char *buf, size_t cap, const char *dir, const char *rel);

/* snprintf into buf. 0, or -ENAMETOOLONG with buf "". */
int md9_path_fmt(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
