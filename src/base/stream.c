#include "stream.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static ssize_t sock_readv(struct md9_stream *s, const struct iovec *iov, int iovcnt)
{
	ssize_t n;

	do
		n = readv(s->fd, iov, iovcnt);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return n;
}

static ssize_t sock_writev(struct md9_stream *s, const struct iovec *iov, int iovcnt)
{
	struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
	ssize_t n;

	do
		n = sendmsg(s->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return n;
}

static uint32_t sock_events_for(struct md9_stream *s, bool want_read, bool want_write)
{
	return (want_read ? EPOLLIN : 0) | (want_write ? EPOLLOUT : 0);
}

static int sock_shutdown_write(struct md9_stream *s)
{
	return shutdown(s->fd, SHUT_WR) < 0 ? -errno : 0;
}

static void sock_free(struct md9_stream *s)
{
	close(s->fd);
	free(s);
}

static const struct md9_stream_ops sock_ops = {
    .readv = sock_readv,
    .writev = sock_writev,
    .events_for = sock_events_for,
    .shutdown_write = sock_shutdown_write,
    .free = sock_free,
};

struct md9_stream *md9_stream_socket(int fd)
{
	struct md9_stream *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->ops = &sock_ops;
	s->fd = fd;
	return s;
}

int md9_stream_release(struct md9_stream *s)
{
	int fd = s->fd;

	if (s->ops != &sock_ops)
		return -EINVAL;
	free(s);
	return fd;
}
