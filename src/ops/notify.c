#include "notify.h"

#include "log.h"
#include "timespec.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int md9_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t plen, len = strlen(state);
	socklen_t salen;
	ssize_t w;
	int fd, err = 0;

	if (!path || !*path)
		return 0;
	plen = strlen(path);
	/* "@name" is the abstract name "\0name" (sd_notify(3)); not
	 * NUL-terminated, so the address length counts exactly its bytes. */
	if ((path[0] != '/' && path[0] != '@') || plen < 2 || plen > sizeof(sa.sun_path) - 1) {
		log_debug("notify: ignoring unusable NOTIFY_SOCKET '%s'", path);
		return -EINVAL;
	}
	memcpy(sa.sun_path, path, plen);
	if (path[0] == '@') {
		sa.sun_path[0] = '\0';
		salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);
	} else {
		salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen + 1);
	}
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		log_debug("notify: socket: %s", strerror(errno));
		return err;
	}
	do {
		w = sendto(fd, state, len, MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
	} while (w < 0 && errno == EINTR);
	if (w < 0) {
		err = -errno;
		log_debug("notify: %s: %s", path, strerror(errno));
	} else if ((size_t)w != len) {
		err = -EIO;
	}
	close(fd);
	return err ? err : 1;
}

int md9_notifyf(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	return md9_notify(buf);
}

int md9_notify_reloading(void)
{
	return md9_notifyf("RELOADING=1\nMONOTONIC_USEC=%llu",
	                   (unsigned long long)(timespec_now_ns() / 1000u));
}
