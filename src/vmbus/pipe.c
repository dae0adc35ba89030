#include "pipe.h"

#include <errno.h>
#include <string.h>

void pipe_rx_init(struct pipe_rx *p, struct vmbus_ring *ring)
{
	p->ring = ring;
	p->consumed = 0;
	p->error = NULL;
	p->eof = false;
}

void pipe_tx_init(struct pipe_tx *p, struct vmbus_ring *ring)
{
	p->ring = ring;
	p->reserved = 0;
}

/* Validate the pipe header of pkt; data offset and length out. */
static int pipe_hdr(struct pipe_rx *p, const struct vmbus_pkt *pkt, uint32_t *data,
		    uint32_t *len)
{
	uint32_t hdr[2];

	if (pkt->type != VMBUS_PKT_DATA_INBAND) {
		p->error = "pipe packet is not in-band data";
		return -EBADMSG;
	}
	if (pkt->payload_len < PIPE_HDR_LEN) {
		p->error = "pipe packet shorter than its header";
		return -EBADMSG;
	}
	vmbus_ring_copy_out(p->ring, pkt->payload, hdr, sizeof(hdr));
	if (hdr[0] != PIPE_TYPE_DATA) {
		p->error = "pipe header type is not data";
		return -EBADMSG;
	}
	if (hdr[1] > pkt->payload_len - PIPE_HDR_LEN) {
		p->error = "pipe data_size beyond the packet";
		return -EBADMSG;
	}
	*data = pkt->payload + PIPE_HDR_LEN;
	if (*data >= p->ring->size)
		*data -= p->ring->size;
	*len = hdr[1];
	return 0;
}

ssize_t pipe_rx_peekv(struct pipe_rx *p, struct iovec *iov, int maxiov, int *niov, size_t max)
{
	struct vmbus_ring *r = p->ring;
	struct vmbus_pkt pkt;
	uint32_t at, data, len, skip = p->consumed;
	size_t total = 0;
	const char *why;
	int n = 0, rc;

	*niov = 0;
	if (p->error)
		return -EBADMSG;
	if (p->eof)
		return 0;
	if (vmbus_ring_readable(r, &why) < 0) {
		p->error = why;
		return -EBADMSG;
	}
	for (at = r->rd; total < max && maxiov - n >= 2; at = pkt.next, skip = 0) {
		rc = vmbus_ring_peek(r, at, &pkt, &why);
		if (rc == -EAGAIN)
			break;
		if (rc < 0) {
			p->error = why;
			return -EBADMSG;
		}
		if (pipe_hdr(p, &pkt, &data, &len) < 0)
			return -EBADMSG;
		if (len == 0) {
			/* End of stream: taken only when nothing precedes it, so
			 * the bytes before it are delivered first. */
			if (at == r->rd) {
				r->rd = pkt.next;
				p->consumed = 0;
				p->eof = true;
			}
			break;
		}
		if (skip > len) {
			p->error = "pipe packet changed under the reader";
			return -EBADMSG;
		}
		len -= skip;
		if (len == 0 && at == r->rd) {
			/* Nothing left in the head packet: release it now, or an
			 * all-empty ring would never read as empty. */
			r->rd = pkt.next;
			p->consumed = 0;
			continue;
		}
		if (len > max - total)
			len = (uint32_t)(max - total);
		if (len == 0)
			continue;
		data += skip;
		if (data >= r->size)
			data -= r->size;
		n += vmbus_ring_iov(r, data, len, iov + n);
		total += len;
	}
	*niov = n;
	return (ssize_t)total;
}

void pipe_rx_consume(struct pipe_rx *p, size_t n)
{
	struct vmbus_ring *r = p->ring;
	struct vmbus_pkt pkt;
	uint32_t data, len;
	const char *why;

	/* Every packet walked here was validated by the peekv that preceded,
	 * which never describes bytes past an end-of-stream packet. */
	while (n > 0 && vmbus_ring_peek(r, r->rd, &pkt, &why) == 0) {
		if (pipe_hdr(p, &pkt, &data, &len) < 0 || len == 0)
			return;
		if (n < len - p->consumed) {
			p->consumed += (uint32_t)n;
			return;
		}
		n -= len - p->consumed;
		p->consumed = 0;
		r->rd = pkt.next;
		if (n == 0)
			return;
	}
}

ssize_t pipe_rx_read(struct pipe_rx *p, void *buf, size_t n)
{
	struct iovec iov[16];
	int niov;
	ssize_t got = pipe_rx_peekv(p, iov, 16, &niov, n);
	size_t off = 0;

	if (got <= 0)
		return got;
	for (int i = 0; i < niov; i++) {
		memcpy((uint8_t *)buf + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	pipe_rx_consume(p, (size_t)got);
	return got;
}

ssize_t pipe_rx_packet(struct pipe_rx *p, void *buf, size_t cap)
{
	struct iovec iov[2];
	size_t off = 0;
	int niov;
	/* Two iovecs are one packet's worth: peekv stops after the head packet. */
	ssize_t n = pipe_rx_peekv(p, iov, 2, &niov, SIZE_MAX);

	if (n <= 0)
		return n;
	for (int i = 0; i < niov && off < cap; i++) {
		size_t k = iov[i].iov_len < cap - off ? iov[i].iov_len : cap - off;
		memcpy((uint8_t *)buf + off, iov[i].iov_base, k);
		off += k;
	}
	pipe_rx_consume(p, (size_t)n);
	return n;
}

size_t pipe_tx_reserve(struct pipe_tx *p, size_t max, struct iovec iov[2], int *niov)
{
	struct iovec all[2];
	uint32_t room = vmbus_ring_max_payload(p->ring);
	uint32_t cap;
	int n;

	if (room <= PIPE_HDR_LEN)
		return 0;
	cap = room - PIPE_HDR_LEN;
	if (cap > PIPE_MAX_DATA)
		cap = PIPE_MAX_DATA;
	if (cap > max)
		cap = (uint32_t)max;
	if (cap == 0 || vmbus_ring_write_reserve(p->ring, PIPE_HDR_LEN + cap, all, &n) < 0)
		return 0;
	/* Skip the 8-byte header; it never straddles the wrap (offsets are 8-aligned). */
	if (all[0].iov_len == PIPE_HDR_LEN) {
		iov[0] = all[1];
		*niov = 1;
	} else {
		iov[0].iov_base = (uint8_t *)all[0].iov_base + PIPE_HDR_LEN;
		iov[0].iov_len = all[0].iov_len - PIPE_HDR_LEN;
		if (n == 2)
			iov[1] = all[1];
		*niov = n;
	}
	p->reserved = cap;
	return cap;
}

void pipe_tx_put(struct pipe_tx *p, size_t n)
{
	struct vmbus_ring *r = p->ring;
	uint32_t hdr[2] = {PIPE_TYPE_DATA, (uint32_t)n};
	struct iovec all[2];

	if (p->reserved == 0 || n == 0 || n > p->reserved) {
		p->reserved = 0;
		return;
	}
	p->reserved = 0;
	/* The header slot sits right after the descriptor, 8-aligned, unwrapped. */
	vmbus_ring_iov(r, (r->wr + VMBUS_PKT_DESC_LEN) % r->size, PIPE_HDR_LEN, all);
	memcpy(all[0].iov_base, hdr, sizeof(hdr));
	vmbus_ring_write_put(r, PIPE_HDR_LEN + (uint32_t)n, 0);
}

size_t pipe_tx_write(struct pipe_tx *p, const void *buf, size_t n)
{
	const uint8_t *src = buf;
	size_t done = 0;

	while (done < n) {
		struct iovec iov[2];
		int niov;
		size_t cap = pipe_tx_reserve(p, n - done, iov, &niov), off = 0;

		if (cap == 0)
			break;
		for (int i = 0; i < niov && off < cap; i++) {
			size_t k = iov[i].iov_len < cap - off ? iov[i].iov_len : cap - off;
			memcpy(iov[i].iov_base, src + done + off, k);
			off += k;
		}
		pipe_tx_put(p, cap);
		done += cap;
	}
	return done;
}

bool pipe_tx_eof(struct pipe_tx *p)
{
	const uint32_t hdr[2] = {PIPE_TYPE_DATA, 0};
	struct iovec iov[2];
	int n;

	if (vmbus_ring_write_reserve(p->ring, PIPE_HDR_LEN, iov, &n) < 0)
		return false;
	/* 8 bytes at an 8-aligned offset: one piece, never wrapped. */
	memcpy(iov[0].iov_base, hdr, sizeof(hdr));
	vmbus_ring_write_put(p->ring, PIPE_HDR_LEN, 0);
	return true;
}

bool pipe_tx_wait(struct pipe_tx *p, size_t min_data)
{
	uint32_t need;

	if (min_data > PIPE_MAX_DATA)
		min_data = PIPE_MAX_DATA;
	need = vmbus_pkt_total(PIPE_HDR_LEN + (uint32_t)min_data);
	/* A ring smaller than that is never that free: be woken when it is empty. */
	if (need >= p->ring->size)
		need = p->ring->size - 8;
	return vmbus_ring_write_wait(p->ring, need);
}
