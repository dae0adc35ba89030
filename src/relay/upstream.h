/* A session's connection to the local RDP server (the backend, backend.h):
 * the non-blocking connect, the one stream every byte to the server goes
 * through (a socket, then TLS over it when the negotiation says so), the
 * negotiation's bytes still to be written, and closing it without losing
 * what was written last. Errors are -errno; the session words them. */
#ifndef MD9_UPSTREAM_H
#define MD9_UPSTREAM_H

#include "backend.h"
#include "evloop.h"
#include "stream.h"
#include "tls.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct upstream {
	struct ev_loop *loop;
	struct ev_handler h;
	struct md9_stream *stream; /* NULL: no connection */
	bool connecting;           /* the connect has not completed */
	bool write_blocked;        /* a write would block: wait for EPOLLOUT */
	uint32_t seen;             /* epoll events since the connect was checked */
	/* Bytes owed to the server before anything else (the negotiation's). */
	const uint8_t *owed;
	size_t owed_len, owed_off;
};

/* Start connecting to b; events go to fn(h, events) with arg. 0 or -errno. */
int upstream_connect(struct upstream *u, struct ev_loop *loop, const struct md9_backend *b,
                     ev_fn fn, void *arg);
/* Has the socket said how the connect went (EPOLLOUT, ERR or HUP)? */
bool upstream_connect_done(const struct upstream *u);
/* Then: 0 connected, or -errno. */
int upstream_connected(struct upstream *u);
/* Owe the server these bytes (they must stay valid until written). */
void upstream_owe(struct upstream *u, const uint8_t *p, size_t len);
/* Write what is owed. 1: all written (or nothing was owed), 0: blocked,
 * -errno. */
int upstream_flush(struct upstream *u);
/* Read what is there: >0 bytes, 0 end of stream, -EAGAIN, -errno. */
ssize_t upstream_read(struct upstream *u, void *buf, size_t cap);
/* Become the server's TLS client on the same socket. 0 or -ENOMEM (the
 * connection is closed then). */
int upstream_start_tls(struct upstream *u);
/* The epoll events to wait for: the connect's; or reading when want_read,
 * writing when want_write and a write is blocked, and what TLS needs for
 * either. */
void upstream_watch(struct upstream *u, bool want_read, bool want_write);
/* Half-close: md9 sends the server nothing more (TCP FIN; TLS close_notify
 * first), reading goes on. 0, -EAGAIN (write_blocked is set: call again
 * when writable), or -errno. */
int upstream_shutdown_write(struct upstream *u);
/* No events at all (the connection is kept, unheard). Not even an error or
 * a hang-up, which epoll reports whatever the interest: the socket is taken
 * out of the loop, and upstream_watch does nothing from then on. */
void upstream_mute(struct upstream *u);
/* Close the connection (fine when there is none). */
void upstream_close(struct upstream *u);

#endif
