/* A byte stream endpoint md9 relays to or from: a plain socket, or TLS over
 * one (tls.c). Non-blocking: -EAGAIN when it would block, 0 from readv at EOF. */
#ifndef MD9_STREAM_H
#define MD9_STREAM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct md9_stream;

struct md9_stream_ops {
	ssize_t (*readv)(struct md9_stream *s, const struct iovec *iov, int iovcnt);
	ssize_t (*writev)(struct md9_stream *s, const struct iovec *iov, int iovcnt);
	/* Epoll events the stream needs to make progress on a blocked read
	 * (want_read) or write; TLS may need EPOLLOUT to read and vice versa. */
	uint32_t (*events_for)(struct md9_stream *s, bool want_read, bool want_write);
	/* Half-close: this side sends nothing more (TCP FIN; TLS close_notify
	 * first), reading goes on. 0, -EAGAIN (call again when events_for(false,
	 * true) is ready), or -errno. */
	int (*shutdown_write)(struct md9_stream *s);
	void (*free)(struct md9_stream *s);
};

struct md9_stream {
	const struct md9_stream_ops *ops;
	int fd;
};

/* A stream over a connected socket fd; takes ownership of fd. */
struct md9_stream *md9_stream_socket(int fd);
/* Free a stream made by md9_stream_socket but not its fd: returns the fd,
 * still open, for a stream that wraps it next (TLS). -EINVAL for any other
 * kind of stream (nothing freed). */
int md9_stream_release(struct md9_stream *s);

#endif
