#include "upstream.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

int upstream_connect(struct upstream *u, struct ev_loop *loop, const struct md9_backend *b,
                     ev_fn fn, void *arg)
{
	int fd = md9_backend_connect(b), rc;

	if (fd < 0)
		return fd;
	u->stream = md9_stream_socket(fd);
	if (!u->stream) {
		close(fd);
		return -ENOMEM;
	}
	u->loop = loop;
	u->connecting = true;
	u->write_blocked = false;
	u->seen = 0;
	rc = ev_set(loop, &u->h, fd, EPOLLOUT, fn, arg);
	if (rc < 0)
		upstream_close(u);
	return rc;
}

bool upstream_connect_done(const struct upstream *u)
{
	return u->connecting && (u->seen & (EPOLLOUT | EPOLLERR | EPOLLHUP));
}

int upstream_connected(struct upstream *u)
{
	int rc = md9_backend_connected(u->stream->fd);

	u->seen = 0;
	if (rc == 0)
		u->connecting = false;
	return rc;
}

void upstream_owe(struct upstream *u, const uint8_t *p, size_t len)
{
	u->owed = p;
	u->owed_len = len;
	u->owed_off = 0;
}

int upstream_flush(struct upstream *u)
{
	while (u->owed_off < u->owed_len) {
		struct iovec iov = {(void *)(u->owed + u->owed_off), u->owed_len - u->owed_off};
		ssize_t n = u->stream->ops->writev(u->stream, &iov, 1);
		if (n == -EAGAIN) {
			u->write_blocked = true;
			return 0;
		}
		if (n < 0)
			return (int)n;
		u->owed_off += (size_t)n;
	}
	upstream_owe(u, NULL, 0);
	u->write_blocked = false;
	return 1;
}

ssize_t upstream_read(struct upstream *u, void *buf, size_t cap)
{
	struct iovec iov = {buf, cap};

	return u->stream->ops->readv(u->stream, &iov, 1);
}

int upstream_start_tls(struct upstream *u)
{
	int fd = md9_stream_release(u->stream);

	u->stream = md9_tls_stream_new(fd, NULL);
	if (u->stream)
		return 0;
	ev_del(u->loop, &u->h);
	close(fd);
	return -ENOMEM;
}

void upstream_watch(struct upstream *u, bool want_read, bool want_write)
{
	if (!u->stream || !u->h.active)
		return;
	if (u->connecting)
		ev_mod(u->loop, &u->h, EPOLLOUT);
	else
		ev_mod(u->loop, &u->h,
		       u->stream->ops->events_for(u->stream, want_read,
		                                  want_write && u->write_blocked));
}

int upstream_shutdown_write(struct upstream *u)
{
	int rc = u->stream->ops->shutdown_write(u->stream);

	u->write_blocked = rc == -EAGAIN;
	return rc;
}

void upstream_mute(struct upstream *u)
{
	if (u->h.active)
		ev_del(u->loop, &u->h);
}

/* Read away what the server sent that nobody will read any more. Closing a
 * TCP socket with unread received data resets the connection (RFC 2525
 * 2.17; Linux tcp_close), and the reset throws away what md9 already wrote
 * but the kernel had not sent yet: the host's last bytes before the end of
 * the session would never reach the server. Bounded: a server that keeps
 * sending gets its reset after 8 MiB. */
static void discard_unread(int fd)
{
	char buf[65536];

	for (int i = 0; i < 128; i++)
		if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0)
			break;
}

void upstream_close(struct upstream *u)
{
	if (u->h.active)
		ev_del(u->loop, &u->h);
	if (u->stream) {
		discard_unread(u->stream->fd);
		u->stream->ops->free(u->stream);
	}
	u->stream = NULL;
	u->connecting = u->write_blocked = false;
	upstream_owe(u, NULL, 0);
}
