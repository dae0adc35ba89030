#include "status_query.h"

#include "timespec.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* After a non-blocking send or recv on fd returned r: 1 when it moved
 * bytes (or saw EOF), 0 when it must be tried again (EINTR, or EAGAIN and
 * fd became ready for `what`), -errno when the exchange failed or the
 * deadline passed. */
static int settle(int fd, ssize_t r, short what, const struct timespec *deadline)
{
	if (r >= 0)
		return 1;
	if (errno == EINTR)
		return 0;
	if (errno != EAGAIN)
		return -errno;
	for (;;) {
		struct timespec now = timespec_now();
		long long ms = timespec_diff_ms(&now, deadline);
		struct pollfd p = {.fd = fd, .events = what};
		int n;

		if (ms <= 0)
			return -ETIMEDOUT;
		n = poll(&p, 1, (int)ms);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

int md9_status_query_buf(const char *path, bool json, int timeout_ms, char **answer)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *req = json ? "status json\n" : "status\n";
	size_t reqlen = strlen(req), off = 0, len = 0, cap = 0;
	struct timespec deadline = timespec_in_ms((unsigned)timeout_ms);
	char *buf = NULL;
	int fd, err = 0;

	*answer = NULL;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		/* A UNIX connect either completes or fails, except EAGAIN
		 * (backlog full): treat it as a failure too. */
		err = -errno;
		goto out;
	}
	while (off < reqlen) {
		ssize_t w = send(fd, req + off, reqlen - off, MSG_NOSIGNAL);
		int rc = settle(fd, w, POLLOUT, &deadline);
		if (rc < 0) {
			err = rc;
			goto out;
		}
		if (rc > 0)
			off += (size_t)w;
	}
	for (;;) {
		ssize_t r;
		int rc;

		if (cap - len < 4096) {
			char *nb;
			if (cap >= STATUS_MAX_OUTPUT + 8192) {
				err = -EFBIG;
				goto out;
			}
			nb = realloc(buf, cap + 16384);
			if (!nb) {
				err = -ENOMEM;
				goto out;
			}
			buf = nb;
			cap += 16384;
		}
		r = recv(fd, buf + len, cap - len - 1, 0);
		rc = settle(fd, r, POLLIN, &deadline);
		if (rc < 0) {
			err = rc;
			goto out;
		}
		if (rc > 0 && r == 0)
			break;
		if (rc > 0)
			len += (size_t)r;
	}
	if (!buf && !(buf = malloc(1))) {
		err = -ENOMEM;
		goto out;
	}
	buf[len] = '\0';
	*answer = buf;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return err;
}

int md9_status_query(const char *path, bool json, int timeout_ms, FILE *out)
{
	char *a;
	int err = md9_status_query_buf(path, json, timeout_ms, &a);

	if (err)
		return err;
	fputs(a, out);
	free(a);
	return 0;
}
