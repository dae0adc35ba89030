#include "relay.h"

#include <errno.h>
#include <stdint.h>

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

/* Stream -> ring in batches: the data areas of up to RELAY_PKTS pipe packets,
 * laid out back to back from the ring's write position, are filled by one
 * readv; each filled packet is then framed in place. A socket read costs one
 * system call per batch (up to 1 MiB), not one per 16 KiB packet. */
#define RELAY_PKTS 64 /* 1 MiB: the default budget */

struct batch {
	int npk, niov;
	uint32_t cap[RELAY_PKTS]; /* data capacity of each packet */
	void *first[RELAY_PKTS];  /* where each one's data starts (pipe_tx_reserve agrees) */
	struct iovec iov[2 * RELAY_PKTS]; /* a data area wraps into at most 2 */
};

/* Plan packets for up to `want` bytes in the room the reader has left. Every
 * packet but the last is full (PIPE_MAX_DATA), so packet i+1 starts exactly
 * where pipe_tx_put(i, PIPE_MAX_DATA) leaves the write position; the last
 * one may end up partly filled, and framing stops there. The capacities are
 * what pipe_tx_reserve would grant one after the other: it keeps the
 * never-full rule (a packet's total < free bytes). */
static void plan(struct vmbus_ring *r, size_t want, int maxpk, struct batch *b)
{
	const uint32_t overhead = VMBUS_PKT_DESC_LEN + VMBUS_PKT_TRAILER_LEN + PIPE_HDR_LEN;
	uint32_t left = vmbus_ring_writable(r), at = r->wr, size = r->size;

	b->npk = b->niov = 0;
	while (b->npk < maxpk && want > 0 && left > 1) {
		uint32_t room = (left - 1) & ~7u, cap, data, total;

		if (room <= overhead)
			break;
		cap = room - overhead;
		if (cap > PIPE_MAX_DATA)
			cap = PIPE_MAX_DATA;
		if (cap > want)
			cap = (uint32_t)want;
		/* at < size and every step is < size: one subtraction wraps. */
		data = at + VMBUS_PKT_DESC_LEN + PIPE_HDR_LEN;
		if (data >= size)
			data -= size;
		b->first[b->npk] = r->data + data;
		b->cap[b->npk++] = cap;
		b->niov += vmbus_ring_iov(r, data, cap, b->iov + b->niov);
		total = vmbus_pkt_total(PIPE_HDR_LEN + cap);
		left -= total;
		at += total;
		if (at >= size)
			at -= size;
		want -= cap;
		if (cap < PIPE_MAX_DATA)
			break;
	}
}

struct relay_result relay_stream_to_pipe(struct md9_stream *in, struct pipe_tx *out, size_t budget)
{
	struct relay_result res = {.state = RELAY_IDLE};
	struct batch b;
	/* The first read is at most 4 packets: most wake-ups carry a few bytes,
	 * and a readv of at most 8 iovecs (UIO_FASTIOV) needs no iovec array
	 * allocated in the kernel. Only a source that filled it gets the whole
	 * batch. A short turn (32 KiB) is then one readv, not two. */
	int maxpk = 4;

	while (res.moved < budget) {
		size_t planned = 0, left;

		plan(out->ring, budget - res.moved, maxpk, &b);
		maxpk = RELAY_PKTS;
		if (b.npk == 0) {
			res.state = RELAY_BLOCKED;
			return res;
		}
		for (int i = 0; i < b.npk; i++)
			planned += b.cap[i];
		ssize_t n = in->ops->readv(in, b.iov, b.niov);
		if (n <= 0) {
			res.state = n == 0 ? RELAY_EOF : n == -EAGAIN ? RELAY_IDLE : RELAY_ERROR;
			res.err = n < 0 && n != -EAGAIN ? (int)n : 0;
			return res;
		}
		/* Frame what arrived: full packets, then the partial last one. */
		left = (size_t)n;
		for (int i = 0; i < b.npk && left > 0; i++) {
			size_t k = left < b.cap[i] ? left : b.cap[i];
			struct iovec t[2];
			int nt;
			if (pipe_tx_reserve(out, k, t, &nt) != k || t[0].iov_base != b.first[i]) {
				/* Only a reader that corrupted read_index shrinks the room. */
				res.state = out->ring->broken ? RELAY_BLOCKED : RELAY_ERROR;
				res.err = out->ring->broken ? 0 : -EPROTO;
				return res;
			}
			pipe_tx_put(out, k);
			left -= k;
			res.moved += k;
		}
		if ((size_t)n < planned)
			return res; /* short read: the source is (probably) drained */
	}
	res.state = RELAY_BUDGET;
	return res;
}
