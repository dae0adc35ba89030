/* libFuzzer target: the ring and pipe reader over whatever the other side
 * could have written (src/vmbus/ring.c, src/vmbus/pipe.c).
 *
 * Input: a 15-byte header, then the data area, then a script of reader
 * operations (make_ring_corpus.py writes the same format):
 *
 *   u16 size8     data area = 8 * (1 + size8 % 512) bytes (8..4096)
 *   u32 rd        read_index \  bit 0 of flags clear: reduced to an aligned
 *   u32 wr        write_index/  in-range offset; set: stored as given
 *   u32 pending   pending_send_sz
 *   u8  flags     bit 0 raw indices, bit 1 feature bit 0 (the writer uses
 *                 pending_send_sz), bit 2 interrupt_mask
 *   size bytes    the data area (zero-filled when the input is shorter)
 *   3-byte ops    op, u16 arg: 0 peekv + consume part, 1 pipe_rx_read,
 *                 2 read_commit, 3 writer moves write_index, 4 descriptor walk
 *
 * After the script the reader drains to the end. Invariants are checked with
 * abort(); the data area ends where its heap block ends (ASan sees any byte
 * past it) and the control page's unused bytes before it are poisoned. */
#include "pipe.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#define POISON(p, n)   __asan_poison_memory_region((p), (n))
#define UNPOISON(p, n) __asan_unpoison_memory_region((p), (n))
#endif
#endif
#ifndef POISON
#define POISON(p, n)   ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define HDR_LEN  15
#define CTL_PAGE 256 /* a short "page": data follows right after it */

struct input {
	const uint8_t *p;
	size_t n;
};

static uint32_t take(struct input *in, size_t k)
{
	uint32_t v = 0;

	for (size_t i = 0; i < k; i++) {
		v |= (uint32_t)(in->n ? *in->p : 0) << (8 * i);
		if (in->n) {
			in->p++;
			in->n--;
		}
	}
	return v;
}

static uint8_t sink;

/* Touch every byte an iovec describes: ASan checks each. */
static void touch(const struct iovec *iov, int niov, const struct vmbus_ring *r, ssize_t total)
{
	size_t sum = 0;

	for (int i = 0; i < niov; i++) {
		const uint8_t *b = iov[i].iov_base;
		CHECK(b >= r->data && iov[i].iov_len <= r->size &&
		      b + iov[i].iov_len <= r->data + r->size);
		CHECK(iov[i].iov_len > 0);
		for (size_t k = 0; k < iov[i].iov_len; k++)
			sink ^= b[k];
		sum += iov[i].iov_len;
	}
	CHECK(sum == (size_t)total);
}

/* Walk descriptors from rd; every accepted packet lies in the readable bytes. */
static void walk(struct vmbus_ring *r)
{
	const char *why = NULL;
	struct vmbus_pkt pkt;
	long avail = vmbus_ring_readable(r, &why);
	uint32_t at = r->rd, walked = 0;
	int rc;

	if (avail < 0) {
		CHECK(avail == -EBADMSG && why && r->broken);
		return;
	}
	CHECK(avail < (long)r->size);
	while ((rc = vmbus_ring_peek(r, at, &pkt, &why)) == 0) {
		uint32_t len = pkt.next >= at ? pkt.next - at : r->size - at + pkt.next;
		CHECK(pkt.type == VMBUS_PKT_DATA_INBAND || pkt.type == VMBUS_PKT_COMP);
		CHECK(pkt.next < r->size && pkt.payload < r->size);
		CHECK(len >= VMBUS_PKT_DESC_LEN + VMBUS_PKT_TRAILER_LEN);
		CHECK(len <= (uint32_t)avail - walked);
		CHECK(pkt.payload_len + VMBUS_PKT_DESC_LEN + VMBUS_PKT_TRAILER_LEN <= len);
		walked += len;
		at = pkt.next;
		if (pkt.payload_len) {
			struct iovec iov[2];
			int n = vmbus_ring_iov(r, pkt.payload, pkt.payload_len, iov);
			touch(iov, n, r, pkt.payload_len);
		}
	}
	CHECK(rc == -EAGAIN || (rc == -EBADMSG && why));
	if (rc == -EAGAIN)
		CHECK(walked == (uint32_t)avail);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	uint32_t rsize = 8 * (1 + take(&in, 2) % 512);
	uint32_t rd = take(&in, 4), wr = take(&in, 4), pending = take(&in, 4);
	uint32_t flags = take(&in, 1);
	uint8_t *mem = calloc(1, CTL_PAGE + rsize);
	struct vmbus_ring_ctl *ctl = (struct vmbus_ring_ctl *)mem;
	struct vmbus_ring r;
	struct pipe_rx p;
	uint8_t buf[4096];
	size_t consumed = 0;
	bool moved = false;

	if (!mem)
		return 0;
	for (uint32_t i = 0; i < rsize; i++)
		mem[CTL_PAGE + i] = (uint8_t)take(&in, 1);
	if (!(flags & 1)) {
		rd = (rd % rsize) & ~7u;
		wr = (wr % rsize) & ~7u;
	}
	ctl->read_index = rd;
	ctl->write_index = wr;
	ctl->pending_send_sz = pending;
	ctl->feature_bits = (flags & 2) ? VMBUS_RING_FEAT_PENDING_SEND_SZ : 0;
	ctl->interrupt_mask = (flags & 4) ? 1 : 0;
	/* The ring code never touches the control page past feature_bits. */
	POISON(mem + sizeof(*ctl), CTL_PAGE - sizeof(*ctl));

	if (vmbus_ring_attach(&r, mem, CTL_PAGE, rsize) < 0) {
		CHECK(flags & 1);
		goto out;
	}
	pipe_rx_init(&p, &r);
	const char *why = NULL;
	long avail = vmbus_ring_readable(&r, &why);

	/* The script. */
	while (in.n >= 3 && !p.error) {
		uint32_t op = take(&in, 1), arg = take(&in, 2);
		struct iovec iov[16];
		int niov = -1;
		ssize_t n;

		switch (op % 5) {
		case 0: {
			int maxiov = 1 + (int)(arg >> 12);
			n = pipe_rx_peekv(&p, iov, maxiov, &niov, 1 + (arg & 0xfff) * 3);
			if (n < 0) {
				CHECK(n == -EBADMSG && p.error && niov == 0);
				break;
			}
			CHECK(niov >= 0 && niov <= maxiov && (size_t)n <= 1 + (arg & 0xfff) * 3u);
			touch(iov, niov, &r, n);
			size_t c = n ? (arg * 7u) % ((size_t)n + 1) : 0;
			pipe_rx_consume(&p, c);
			consumed += c;
			break;
		}
		case 1:
			n = pipe_rx_read(&p, buf, 1 + arg % sizeof(buf));
			CHECK(n == -EBADMSG ? p.error != NULL : n >= 0);
			if (n > 0)
				consumed += (size_t)n;
			break;
		case 2:
			vmbus_ring_read_commit(&r);
			CHECK(ctl->read_index == r.rd);
			break;
		case 3:
			/* The writer moves its index at any time, to anything. */
			ctl->write_index = (flags & 1) ? arg : (arg * 8u) % rsize;
			moved = true;
			break;
		case 4:
			walk(&r);
			break;
		}
		CHECK(r.rd < r.size && (r.rd & 7) == 0);
		CHECK(p.consumed < r.size);
	}
	/* Drain to the end. */
	for (int guard = 0; guard < 4096 && !p.error; guard++) {
		ssize_t n = pipe_rx_read(&p, buf, sizeof(buf));
		if (n <= 0) {
			CHECK(n == 0 || (n == -EBADMSG && p.error));
			break;
		}
		consumed += (size_t)n;
	}
	if (!p.error)
		CHECK(pipe_rx_read(&p, buf, sizeof(buf)) == 0 || p.error);
	/* Without the writer moving, a reader consumes less than was readable. */
	if (avail >= 0 && !moved)
		CHECK(consumed < (size_t)rsize);
	vmbus_ring_read_commit(&r);
	walk(&r);
out:
	UNPOISON(mem + sizeof(*ctl), CTL_PAGE - sizeof(*ctl));
	free(mem);
	return 0;
}
