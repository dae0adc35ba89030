#include "textfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

/* read() until EOF or cap bytes; the count, or -errno. */
static ssize_t read_all(int fd, char *buf, size_t cap)
{
	size_t len = 0;

	while (len < cap) {
		ssize_t r = read(fd, buf + len, cap - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		len += (size_t)r;
	}
	return (ssize_t)len;
}

ssize_t md9_textfile_read_into(int dirfd, const char *path, char *buf, size_t cap)
{
	ssize_t n;
	int fd;

	if (cap < 2)
		return -EINVAL;
	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	n = read_all(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return n;
	if ((size_t)n >= cap - 1)
		return -EFBIG;
	buf[n] = '\0';
	return n;
}

char *md9_textfile_read(const char *path, size_t max, size_t *len, int *err)
{
	size_t cap = 0, n = 0;
	char *buf = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		*err = -errno;
		return NULL;
	}
	for (;;) {
		size_t want;
		ssize_t r;

		if (cap - n < 4096) {
			char *nb;

			if (cap > max) {
				*err = -EFBIG;
				goto fail;
			}
			nb = realloc(buf, cap + 65536);
			if (!nb) {
				*err = -ENOMEM;
				goto fail;
			}
			buf = nb;
			cap += 65536;
		}
		want = cap - n - 1;
		r = read_all(fd, buf + n, want);
		if (r < 0) {
			*err = (int)r;
			goto fail;
		}
		n += (size_t)r;
		if ((size_t)r < want)
			break; /* read_all stopped short: end of file */
	}
	close(fd);
	if (n > max) {
		*err = -EFBIG;
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	if (len)
		*len = n;
	*err = 0;
	return buf;
fail:
	close(fd);
	free(buf);
	return NULL;
}
