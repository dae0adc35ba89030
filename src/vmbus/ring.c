#include "ring.h"

#include <errno.h>
#include <string.h>

/* Ordering (protocol.md §4, Linux ring_buffer.c): the other side's index
 * is loaded with acquire so the bytes it covers are visible; our index is
 * stored with release so the bytes we wrote (or finished reading) are done
 * first; a full fence separates storing our index from loading the other
 * side's mask or pending_send_sz (store->load ordering). */
#define LOAD_ACQ(p)     __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define LOAD_RELAXED(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE_REL(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define FULL_FENCE()    __atomic_thread_fence(__ATOMIC_SEQ_CST)

struct pkt_desc {
	uint16_t type;
	uint16_t offset8;
	uint16_t len8;
	uint16_t flags;
	uint64_t xid;
};
_Static_assert(sizeof(struct pkt_desc) == VMBUS_PKT_DESC_LEN, "descriptor is 16 bytes");
_Static_assert(__builtin_offsetof(struct vmbus_ring_ctl, feature_bits) == 64, "feature_bits at 64");

static inline uint32_t ring_add(const struct vmbus_ring *r, uint32_t off, uint32_t n)
{
	uint64_t v = (uint64_t)off + n;
	return (uint32_t)(v >= r->size ? v - r->size : v);
}

/* Bytes from `from` up to `to`, going forward around the ring. */
static inline uint32_t ring_dist(const struct vmbus_ring *r, uint32_t from, uint32_t to)
{
	return to >= from ? to - from : r->size - from + to;
}

static bool index_ok(const struct vmbus_ring *r, uint32_t idx)
{
	return idx < r->size && (idx & 7u) == 0;
}

int vmbus_ring_attach(struct vmbus_ring *r, void *ctl_page, size_t page_size, size_t data_size)
{
	memset(r, 0, sizeof(*r));
	if (page_size < sizeof(struct vmbus_ring_ctl) || data_size == 0 || (data_size & 7u) ||
	    data_size >= (1u << 31))
		return -EINVAL;
	r->ctl = ctl_page;
	r->data = (uint8_t *)ctl_page + page_size;
	r->size = (uint32_t)data_size;
	uint32_t w = LOAD_ACQ(&r->ctl->write_index), rd = LOAD_ACQ(&r->ctl->read_index);
	if (!index_ok(r, w) || !index_ok(r, rd))
		return -EBADMSG;
	r->rd = r->rd_pub = r->wr_snap = rd;
	r->wr = r->wr_pub = w;
	r->wr_snap = w;
	return 0;
}

void vmbus_ring_reset(struct vmbus_ring *r)
{
	memset(r->ctl, 0, sizeof(*r->ctl));
	r->rd = r->rd_pub = r->wr_snap = r->wr = r->wr_pub = 0;
	r->broken = NULL;
}

void vmbus_ring_writer_init(struct vmbus_ring *r)
{
	__atomic_fetch_or(&r->ctl->feature_bits, VMBUS_RING_FEAT_PENDING_SEND_SZ, __ATOMIC_RELEASE);
}

void vmbus_ring_copy_out(const struct vmbus_ring *r, uint32_t off, void *dst, size_t n)
{
	size_t first = r->size - off;

	if (n <= first) {
		memcpy(dst, r->data + off, n);
	} else {
		memcpy(dst, r->data + off, first);
		memcpy((uint8_t *)dst + first, r->data, n - first);
	}
}

static void copy_in(struct vmbus_ring *r, uint32_t off, const void *src, size_t n)
{
	size_t first = r->size - off;

	if (n <= first) {
		memcpy(r->data + off, src, n);
	} else {
		memcpy(r->data + off, src, first);
		memcpy(r->data, (const uint8_t *)src + first, n - first);
	}
}

static void zero_in(struct vmbus_ring *r, uint32_t off, size_t n)
{
	size_t first = r->size - off;

	if (n <= first) {
		memset(r->data + off, 0, n);
	} else {
		memset(r->data + off, 0, first);
		memset(r->data, 0, n - first);
	}
}

int vmbus_ring_iov(const struct vmbus_ring *r, uint32_t off, uint32_t n, struct iovec iov[2])
{
	uint32_t first = r->size - off;

	iov[0].iov_base = r->data + off;
	if (n <= first) {
		iov[0].iov_len = n;
		return 1;
	}
	iov[0].iov_len = first;
	iov[1].iov_base = r->data;
	iov[1].iov_len = n - first;
	return 2;
}

/* ---- reader ---- */

long vmbus_ring_readable(struct vmbus_ring *r, const char **why)
{
	uint32_t w = LOAD_ACQ(&r->ctl->write_index);

	if (!index_ok(r, w)) {
		r->broken = "write_index out of range or unaligned";
		if (why)
			*why = r->broken;
		return -EBADMSG;
	}
	r->wr_snap = w;
	return ring_dist(r, r->rd, w);
}

int vmbus_ring_peek(const struct vmbus_ring *r, uint32_t at, struct vmbus_pkt *pkt,
		    const char **why)
{
	struct pkt_desc d;
	uint32_t avail;

	if (at == r->wr_snap)
		return -EAGAIN;
	avail = ring_dist(r, at, r->wr_snap);
	if (avail < VMBUS_PKT_DESC_LEN + VMBUS_PKT_TRAILER_LEN) {
		*why = "fewer readable bytes than a packet descriptor and trailer";
		return -EBADMSG;
	}
	vmbus_ring_copy_out(r, at, &d, sizeof(d));
	if (d.offset8 < 2) {
		*why = "descriptor offset8 below 2";
		return -EBADMSG;
	}
	if (d.len8 < d.offset8) {
		*why = "descriptor offset8 beyond len8";
		return -EBADMSG;
	}
	if ((uint32_t)d.len8 * 8u + VMBUS_PKT_TRAILER_LEN > avail) {
		*why = "descriptor len8 beyond the readable bytes";
		return -EBADMSG;
	}
	if (d.type != VMBUS_PKT_DATA_INBAND && d.type != VMBUS_PKT_COMP) {
		*why = "unknown descriptor type";
		return -EBADMSG;
	}
	pkt->type = d.type;
	pkt->flags = d.flags;
	pkt->xid = d.xid;
	pkt->start = at;
	pkt->payload = ring_add(r, at, (uint32_t)d.offset8 * 8u);
	pkt->payload_len = ((uint32_t)d.len8 - d.offset8) * 8u;
	pkt->next = ring_add(r, at, (uint32_t)d.len8 * 8u + VMBUS_PKT_TRAILER_LEN);
	return 0;
}

bool vmbus_ring_read_commit(struct vmbus_ring *r)
{
	uint32_t old = r->rd_pub, pending, w, free_before, free_after;

	if (r->rd == old)
		return false;
	STORE_REL(&r->ctl->read_index, r->rd);
	r->rd_pub = r->rd;
	FULL_FENCE();
	if (!(LOAD_RELAXED(&r->ctl->feature_bits) & VMBUS_RING_FEAT_PENDING_SEND_SZ))
		return false;
	pending = LOAD_RELAXED(&r->ctl->pending_send_sz);
	if (pending == 0)
		return false;
	w = LOAD_ACQ(&r->ctl->write_index);
	if (!index_ok(r, w))
		return false;
	/* Free space as the writer counts it: the whole ring when empty. */
	free_after = r->size - ring_dist(r, r->rd, w);
	free_before = r->size - ring_dist(r, old, w);
	if (ring_dist(r, old, w) == 0)
		free_before = r->size;
	/* "Enough" means strictly more than pending_send_sz (Linux hv_pkt_iter_close). */
	return free_before <= pending && free_after > pending;
}

uint32_t vmbus_ring_unpublished_read(const struct vmbus_ring *r)
{
	return ring_dist(r, r->rd_pub, r->rd);
}

void vmbus_ring_mask(struct vmbus_ring *r)
{
	__atomic_store_n(&r->ctl->interrupt_mask, 1u, __ATOMIC_RELAXED);
}

bool vmbus_ring_unmask(struct vmbus_ring *r)
{
	__atomic_store_n(&r->ctl->interrupt_mask, 0u, __ATOMIC_RELAXED);
	FULL_FENCE();
	return LOAD_ACQ(&r->ctl->write_index) != r->rd;
}

int vmbus_ring_drain(struct vmbus_ring *r, int (*drain)(void *arg), void *arg)
{
	for (;;) {
		int rc;

		vmbus_ring_mask(r);
		rc = drain(arg);
		if (rc != 0)
			return rc < 0 ? rc : 0;
		if (!vmbus_ring_unmask(r))
			return 0;
	}
}

/* ---- writer ---- */

uint32_t vmbus_ring_writable(struct vmbus_ring *r)
{
	uint32_t rd = LOAD_ACQ(&r->ctl->read_index);

	if (!index_ok(r, rd)) {
		r->broken = "read_index out of range or unaligned";
		return 0;
	}
	return r->size - ring_dist(r, rd, r->wr);
}

uint32_t vmbus_ring_max_payload(struct vmbus_ring *r)
{
	uint32_t free = vmbus_ring_writable(r);
	uint32_t overhead = VMBUS_PKT_DESC_LEN + VMBUS_PKT_TRAILER_LEN;

	/* Need total < free: total <= free - 1, and totals are multiples of 8. */
	if (free <= overhead)
		return 0;
	return ((free - 1u) & ~7u) - overhead;
}

int vmbus_ring_write_reserve(struct vmbus_ring *r, uint32_t payload_len, struct iovec iov[2],
			     int *niov)
{
	/* len8 is 16 bits: write_put could not describe a longer packet. */
	if (payload_len > 65535u * 8u - VMBUS_PKT_DESC_LEN)
		return -EMSGSIZE;
	if (payload_len > r->size || vmbus_pkt_total(payload_len) >= vmbus_ring_writable(r))
		return -EAGAIN;
	*niov = vmbus_ring_iov(r, ring_add(r, r->wr, VMBUS_PKT_DESC_LEN), payload_len, iov);
	return 0;
}

void vmbus_ring_write_put(struct vmbus_ring *r, uint32_t payload_len, uint64_t xid)
{
	uint32_t padded = (payload_len + 7u) & ~7u;
	struct pkt_desc d = {
		.type = VMBUS_PKT_DATA_INBAND,
		.offset8 = VMBUS_PKT_DESC_LEN / 8,
		.len8 = (uint16_t)((VMBUS_PKT_DESC_LEN + padded) / 8),
		.flags = 0,
		.xid = xid,
	};
	uint64_t trailer = (uint64_t)r->wr << 32;
	uint32_t off = r->wr;

	copy_in(r, off, &d, sizeof(d));
	off = ring_add(r, off, VMBUS_PKT_DESC_LEN + payload_len);
	if (padded != payload_len)
		zero_in(r, off, padded - payload_len);
	off = ring_add(r, off, padded - payload_len);
	copy_in(r, off, &trailer, sizeof(trailer));
	r->wr = ring_add(r, off, VMBUS_PKT_TRAILER_LEN);
}

int vmbus_ring_write(struct vmbus_ring *r, const struct iovec *iov, int iovcnt, uint64_t xid)
{
	struct iovec dst[2];
	size_t len = 0;
	uint32_t off;
	int ndst;

	for (int i = 0; i < iovcnt; i++)
		len += iov[i].iov_len;
	/* len8 is 16 bits: a packet holds at most 65535*8 bytes including the descriptor. */
	if (len > 65535u * 8u - VMBUS_PKT_DESC_LEN)
		return -EMSGSIZE;
	if (vmbus_ring_write_reserve(r, (uint32_t)len, dst, &ndst) < 0)
		return -EAGAIN;
	off = ring_add(r, r->wr, VMBUS_PKT_DESC_LEN);
	for (int i = 0; i < iovcnt; i++) {
		copy_in(r, off, iov[i].iov_base, iov[i].iov_len);
		off = ring_add(r, off, (uint32_t)iov[i].iov_len);
	}
	vmbus_ring_write_put(r, (uint32_t)len, xid);
	return 0;
}

bool vmbus_ring_write_commit(struct vmbus_ring *r)
{
	uint32_t old = r->wr_pub;

	if (r->wr == old)
		return false;
	STORE_REL(&r->ctl->write_index, r->wr);
	r->wr_pub = r->wr;
	FULL_FENCE();
	if (LOAD_RELAXED(&r->ctl->interrupt_mask))
		return false;
	/* Signal only on the empty -> non-empty transition (Linux hv_signal_on_write). */
	return LOAD_ACQ(&r->ctl->read_index) == old;
}

uint32_t vmbus_ring_unpublished_write(const struct vmbus_ring *r)
{
	return ring_dist(r, r->wr_pub, r->wr);
}

bool vmbus_ring_write_wait(struct vmbus_ring *r, uint32_t need)
{
	__atomic_store_n(&r->ctl->pending_send_sz, need, __ATOMIC_RELAXED);
	FULL_FENCE();
	if (vmbus_ring_writable(r) > need) {
		vmbus_ring_write_unwait(r);
		return true;
	}
	return false;
}

void vmbus_ring_write_unwait(struct vmbus_ring *r)
{
	__atomic_store_n(&r->ctl->pending_send_sz, 0u, __ATOMIC_RELAXED);
}
