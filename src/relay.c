#include "relay.h"

#include <errno.h>

#define RELAY_IOV 64

struct relay_result relay_pipe_to_stream(struct pipe_rx *in, struct md9_stream *out, size_t budget)
{
	struct relay_result res = {.state = RELAY_IDLE};
	struct iovec iov[RELAY_IOV];
	int niov;

	while (res.moved < budget) {
		ssize_t n = pipe_rx_peekv(in, iov, RELAY_IOV, &niov, budget - res.moved);
		if (n < 0) {
			res.state = RELAY_ERROR;
			res.err = (int)n;
			return res;
		}
		if (n == 0)
			return res;
		ssize_t w = out->ops->writev(out, iov, niov);
		if (w == -EAGAIN) {
			res.state = RELAY_BLOCKED;
			return res;
		}
		if (w < 0) {
			res.state = RELAY_ERROR;
			res.err = (int)w;
			return res;
		}
		pipe_rx_consume(in, (size_t)w);
		res.moved += (size_t)w;
		if (w < n) {
			res.state = RELAY_BLOCKED;
			return res;
		}
	}
	res.state = RELAY_BUDGET;
	return res;
}

struct relay_result relay_stream_to_pipe(struct md9_stream *in, struct pipe_tx *out, size_t budget)
{
	struct relay_result res = {.state = RELAY_IDLE};
	struct iovec iov[2];
	int niov;

	while (res.moved < budget) {
		size_t cap = pipe_tx_reserve(out, PIPE_MAX_DATA, iov, &niov);
		if (cap == 0) {
			res.state = RELAY_BLOCKED;
			return res;
		}
		/* pipe_tx_reserve trims iov to the ring's room; trim to cap too. */
		size_t left = cap;
		for (int i = 0; i < niov; i++) {
			if (iov[i].iov_len > left)
				iov[i].iov_len = left;
			left -= iov[i].iov_len;
		}
		ssize_t n = in->ops->readv(in, iov, niov);
		if (n <= 0) {
			pipe_tx_put(out, 0);
			res.state = n == 0 ? RELAY_EOF : n == -EAGAIN ? RELAY_IDLE : RELAY_ERROR;
			res.err = n < 0 && n != -EAGAIN ? (int)n : 0;
			return res;
		}
		pipe_tx_put(out, (size_t)n);
		res.moved += (size_t)n;
		if ((size_t)n < cap)
			return res; /* short read: the source is (probably) drained */
	}
	res.state = RELAY_BUDGET;
	return res;
}
