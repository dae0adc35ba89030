#include "kmsg.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* Records are at most 1 KiB of text plus their dictionary (printk's
 * PRINTKRB_RECORD_MAX); a read() with a smaller buffer fails with EINVAL. */
#define KMSG_BUF 8192

/* One line: a record header and message, or a continuation (skipped). */
static bool line(char *s, bool (*fn)(const char *msg, void *arg), void *arg)
{
	char *semi;

	if (s[0] == ' ' || !(semi = strchr(s, ';')))
		return false;
	return fn(semi + 1, arg);
}

int md9_kmsg_scan(const char *path, bool (*fn)(const char *msg, void *arg), void *arg, bool *found)
{
	char buf[KMSG_BUF + 1];
	size_t have = 0;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

	*found = false;
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t r = read(fd, buf + have, KMSG_BUF - have);
		char *p, *nl;

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EPIPE)
			continue; /* records were overwritten meanwhile: go on */
		if (r <= 0)
			break; /* EAGAIN: the newest record was read; 0: end of file */
		have += (size_t)r;
		buf[have] = '\0';
		for (p = buf; (nl = memchr(p, '\n', have - (size_t)(p - buf))) != NULL;
		     p = nl + 1) {
			*nl = '\0';
			if (line(p, fn, arg)) {
				*found = true;
				close(fd);
				return 0;
			}
		}
		have -= (size_t)(p - buf);
		memmove(buf, p, have);
		if (have == KMSG_BUF)
			have = 0; /* a line longer than any record: drop it */
	}
	if (have) {
		buf[have] = '\0';
		*found = line(buf, fn, arg);
	}
	close(fd);
	return 0;
}
