#include "path.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

char *md9_path_join(char *buf, size_t cap, const char *dir, const char *rel)
{
	size_t n = strlen(dir);

	while (n && dir[n - 1] == '/')
		n--;
	while (*rel == '/')
		rel++;
	if (cap && (size_t)snprintf(buf, cap, "%.*s/%s", (int)n, dir, rel) >= cap)
		buf[0] = '\0';
	return buf;
}

int md9_path_fmt(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= cap) {
		if (cap)
			buf[0] = '\0';
		return -ENAMETOOLONG;
	}
	return 0;
}
