/* VMBus ring buffers (src/vmbus/ring.c), protocol.md §4.
 *
 * Every ring here lives in a memfd mapped twice, once for the writer's view
 * and once for the reader's, as the guest and md9-hostsim see the same pages
 * at different addresses. The data area ends at the end of the memfd and the
 * page after each mapping is PROT_NONE, so reading past the data area faults.
 * Raw checks go through the reader's mapping with the test's own wrap-around
 * code, not ring.c's. */
#include "ring.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#define CTL_PAGE 4096u
#define FILL     0xaa

struct rbuf {
	int memfd;
	size_t file_len;
	uint8_t *map[2]; /* [0] the writer's process, [1] the reader's */
	size_t map_len;
	uint32_t size;
	struct vmbus_ring w; /* writer's view, on map[0] */
	struct vmbus_ring r; /* reader's view, on map[1] */
};

static uint8_t *ctl_page(const struct rbuf *b, int view)
{
	return b->map[view] + b->file_len - b->size - CTL_PAGE;
}

static struct vmbus_ring_ctl *ctl(const struct rbuf *b)
{
	return (struct vmbus_ring_ctl *)ctl_page(b, 1);
}

static uint8_t *data(const struct rbuf *b)
{
	return b->map[1] + b->file_len - b->size;
}

static void rbuf_new(struct rbuf *b, uint32_t size)
{
	long page = sysconf(_SC_PAGESIZE);

	memset(b, 0, sizeof(*b));
	b->size = size;
	b->file_len = ((size_t)CTL_PAGE + size + (size_t)page - 1) / (size_t)page * (size_t)page;
	b->map_len = b->file_len + (size_t)page;
	b->memfd = memfd_create("test-ring", MFD_CLOEXEC);
	assert_true(b->memfd >= 0);
	assert_int_equal(ftruncate(b->memfd, (off_t)b->file_len), 0);
	for (int v = 0; v < 2; v++) {
		/* Reserve mapping + guard page, then put the memfd over the front. */
		void *res = mmap(NULL, b->map_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		assert_ptr_not_equal(res, MAP_FAILED);
		void *m = mmap(res, b->file_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
			       b->memfd, 0);
		assert_ptr_equal(m, res);
		b->map[v] = m;
	}
	assert_ptr_not_equal(b->map[0], b->map[1]);
}

static void rbuf_free(struct rbuf *b)
{
	for (int v = 0; v < 2; v++)
		munmap(b->map[v], b->map_len);
	close(b->memfd);
}

/* Fresh control page with both indices at `start`, data filled with FILL,
 * both views attached. feature: the writer announces pending_send_sz. */
static void rbuf_reset(struct rbuf *b, uint32_t start, bool feature)
{
	memset(ctl_page(b, 1), 0, CTL_PAGE);
	memset(data(b), FILL, b->size);
	ctl(b)->write_index = start;
	ctl(b)->read_index = start;
	assert_int_equal(vmbus_ring_attach(&b->w, ctl_page(b, 0), CTL_PAGE, b->size), 0);
	assert_int_equal(vmbus_ring_attach(&b->r, ctl_page(b, 1), CTL_PAGE, b->size), 0);
	if (feature)
		vmbus_ring_writer_init(&b->w);
	assert_int_equal(ctl(b)->feature_bits, feature ? VMBUS_RING_FEAT_PENDING_SEND_SZ : 0);
}

/* The test's own wrapping accessors. */
static void raw_get(const struct rbuf *b, uint32_t off, void *dst, size_t n)
{
	for (size_t i = 0; i < n; i++)
		((uint8_t *)dst)[i] = data(b)[(off + i) % b->size];
}

static void raw_put(const struct rbuf *b, uint32_t off, const void *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		data(b)[(off + i) % b->size] = ((const uint8_t *)src)[i];
}

struct raw_desc {
	uint16_t type, offset8, len8, flags;
	uint64_t xid;
};

static void raw_desc_put(const struct rbuf *b, uint32_t at, uint16_t type, uint16_t offset8,
			 uint16_t len8)
{
	struct raw_desc d = {.type = type, .offset8 = offset8, .len8 = len8, .xid = 0x77};

	raw_put(b, at, &d, sizeof(d));
}

static uint32_t pad8(uint32_t n)
{
	return (n + 7u) & ~7u;
}

static uint8_t pattern(uint32_t seed, uint32_t i)
{
	return (uint8_t)(seed * 7u + i * 13u + 1u);
}

/* Write one packet of `len` pattern bytes through the copying or the
 * zero-copy path. */
static int put_packet(struct vmbus_ring *w, uint32_t len, uint32_t seed, uint64_t xid, bool zc)
{
	uint8_t buf[1024];

	assert_true(len <= sizeof(buf));
	for (uint32_t i = 0; i < len; i++)
		buf[i] = pattern(seed, i);
	if (!zc) {
		struct iovec iov[2] = {{buf, len / 2}, {buf + len / 2, len - len / 2}};
		return vmbus_ring_write(w, iov, 2, xid);
	}
	struct iovec iov[2];
	int niov = 0, rc = vmbus_ring_write_reserve(w, len, iov, &niov);
	if (rc < 0)
		return rc;
	assert_true(niov == 1 || niov == 2);
	size_t off = 0;
	for (int i = 0; i < niov; i++) {
		memcpy(iov[i].iov_base, buf + off, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	assert_int_equal(off, len);
	vmbus_ring_write_put(w, len, xid);
	return 0;
}

/* Reader: take k packets (each must validate), publish nothing. */
static void reader_take(struct rbuf *b, int k)
{
	const char *why = NULL;
	struct vmbus_pkt pkt;

	assert_true(vmbus_ring_readable(&b->r, &why) >= 0);
	for (int i = 0; i < k; i++) {
		assert_int_equal(vmbus_ring_peek(&b->r, b->r.rd, &pkt, &why), 0);
		b->r.rd = pkt.next;
	}
}

/* ---- wrap-around at every alignment class ---- */

static void check_wrap(uint32_t size)
{
	struct rbuf b;

	rbuf_new(&b, size);
	for (uint32_t start = 0; start < size; start += 8) {
		for (uint32_t len = 0; len <= 40; len++) {
			uint32_t total = vmbus_pkt_total(len), end = (start + total) % size;
			uint64_t xid = 0x1122334455667700ull | len;
			bool zc = ((start / 8 + len) & 1) != 0;
			struct raw_desc d;
			struct vmbus_pkt pkt;
			const char *why = NULL;
			uint8_t got[64];
			uint64_t trailer;

			rbuf_reset(&b, start, true);
			assert_int_equal(put_packet(&b.w, len, len, xid, zc), 0);
			/* Nothing is published before the commit. */
			assert_int_equal(ctl(&b)->write_index, start);
			assert_int_equal(vmbus_ring_readable(&b.r, &why), 0);
			assert_true(vmbus_ring_write_commit(&b.w));
			assert_int_equal(ctl(&b)->write_index, end);
			assert_int_equal(total, 16 + pad8(len) + 8);

			/* The raw bytes. */
			raw_get(&b, start, &d, sizeof(d));
			assert_int_equal(d.type, VMBUS_PKT_DATA_INBAND);
			assert_int_equal(d.offset8, 2);
			assert_int_equal(d.len8, (16 + pad8(len)) / 8);
			assert_int_equal(d.flags, 0);
			assert_true(d.xid == xid);
			raw_get(&b, start + 16, got, pad8(len));
			for (uint32_t i = 0; i < len; i++)
				assert_int_equal(got[i], pattern(len, i));
			for (uint32_t i = len; i < pad8(len); i++)
				assert_int_equal(got[i], 0); /* padding is zeroed */
			raw_get(&b, start + 16 + pad8(len), &trailer, sizeof(trailer));
			assert_true(trailer == (uint64_t)start << 32);
			/* Every byte outside the packet is untouched. */
			for (uint32_t k = total; k < size; k++)
				assert_int_equal(data(&b)[(start + k) % size], FILL);

			/* The reader's view. */
			assert_int_equal(vmbus_ring_readable(&b.r, &why), total);
			assert_int_equal(vmbus_ring_peek(&b.r, b.r.rd, &pkt, &why), 0);
			assert_int_equal(pkt.type, VMBUS_PKT_DATA_INBAND);
			assert_int_equal(pkt.flags, 0);
			assert_true(pkt.xid == xid);
			assert_int_equal(pkt.start, start);
			assert_int_equal(pkt.payload, (start + 16) % size);
			assert_int_equal(pkt.payload_len, pad8(len));
			assert_int_equal(pkt.next, end);
			memset(got, 0, sizeof(got));
			vmbus_ring_copy_out(&b.r, pkt.payload, got, len);
			for (uint32_t i = 0; i < len; i++)
				assert_int_equal(got[i], pattern(len, i));
			if (len > 0) {
				struct iovec iov[2];
				int n = vmbus_ring_iov(&b.r, pkt.payload, len, iov);
				bool crosses = pkt.payload + len > size;
				assert_int_equal(n, crosses ? 2 : 1);
				assert_ptr_equal(iov[0].iov_base, data(&b) + pkt.payload);
				assert_int_equal(iov[0].iov_len, crosses ? size - pkt.payload : len);
				if (crosses) {
					assert_ptr_equal(iov[1].iov_base, data(&b));
					assert_int_equal(iov[0].iov_len + iov[1].iov_len, len);
				}
			}
			b.r.rd = pkt.next;
			assert_int_equal(vmbus_ring_peek(&b.r, b.r.rd, &pkt, &why), -EAGAIN);
			assert_false(vmbus_ring_read_commit(&b.r));
			assert_int_equal(ctl(&b)->read_index, end);
			assert_int_equal(vmbus_ring_readable(&b.r, &why), 0);
			assert_int_equal(vmbus_ring_writable(&b.w), size);
			assert_null(b.r.broken);
			assert_null(b.w.broken);
		}
	}
	rbuf_free(&b);
}

static void test_wrap_every_alignment_256(void **state)
{
	(void)state;
	check_wrap(256);
}

static void test_wrap_every_alignment_512(void **state)
{
	(void)state;
	check_wrap(512);
}

/* A stream of packets of every padding class through a small ring, many
 * times round, reader and writer interleaved. */
static void test_wrap_stream(void **state)
{
	struct rbuf b;
	uint32_t wseq = 0, rseq = 0;
	const char *why = NULL;

	(void)state;
	rbuf_new(&b, 256);
	rbuf_reset(&b, 0, true);
	for (int round = 0; round < 2000; round++) {
		/* Write as many as fit (at most 10: a packet is 24 bytes or more). */
		for (int k = 0; put_packet(&b.w, wseq % 41, wseq, wseq, wseq & 1) == 0; k++) {
			assert_true(k < 10);
			wseq++;
		}
		vmbus_ring_write_commit(&b.w);
		assert_int_not_equal(ctl(&b)->write_index, ctl(&b)->read_index);
		/* Read some of them (1..3), checking content. */
		assert_true(vmbus_ring_readable(&b.r, &why) > 0);
		for (int k = 0; k <= round % 3 && rseq < wseq; k++) {
			struct vmbus_pkt pkt;
			uint8_t got[48];
			uint32_t len = rseq % 41;
			assert_int_equal(vmbus_ring_peek(&b.r, b.r.rd, &pkt, &why), 0);
			assert_true(pkt.xid == rseq);
			assert_int_equal(pkt.payload_len, pad8(len));
			vmbus_ring_copy_out(&b.r, pkt.payload, got, len);
			for (uint32_t i = 0; i < len; i++)
				assert_int_equal(got[i], pattern(rseq, i));
			b.r.rd = pkt.next;
			rseq++;
		}
		vmbus_ring_read_commit(&b.r);
	}
	assert_true(wseq > 2000);
	rbuf_free(&b);
}

/* ---- full ring ---- */

static void test_never_completely_full(void **state)
{
	struct rbuf b;
	const char *why = NULL;

	(void)state;
	rbuf_new(&b, 256);
	for (uint32_t start = 0; start < 256; start += 8) {
		rbuf_reset(&b, start, true);
		assert_int_equal(vmbus_ring_writable(&b.w), 256);
		/* The largest packet leaves 8 bytes free: 256 - 8 - 24. */
		assert_int_equal(vmbus_ring_max_payload(&b.w), 224);
		/* 225..232 pad to a 256-byte packet: it would fill the ring. */
		for (uint32_t len = 225; len <= 232; len++) {
			struct iovec iov[2];
			int niov;
			assert_int_equal(vmbus_pkt_total(len), 256);
			assert_int_equal(put_packet(&b.w, len, 1, 1, false), -EAGAIN);
			assert_int_equal(vmbus_ring_write_reserve(&b.w, len, iov, &niov), -EAGAIN);
		}
		assert_int_equal(b.w.wr, start);
		assert_false(vmbus_ring_write_commit(&b.w));
		assert_int_equal(ctl(&b)->write_index, start);
		for (uint32_t k = 0; k < 256; k++)
			assert_int_equal(data(&b)[k], FILL);

		assert_int_equal(put_packet(&b.w, 224, 1, 1, start & 8), 0);
		assert_true(vmbus_ring_write_commit(&b.w));
		assert_int_equal(ctl(&b)->write_index, (start + 248) % 256);
		assert_int_not_equal(ctl(&b)->write_index, ctl(&b)->read_index);
		assert_int_equal(vmbus_ring_writable(&b.w), 8);
		assert_int_equal(vmbus_ring_max_payload(&b.w), 0);
		assert_int_equal(put_packet(&b.w, 0, 2, 2, false), -EAGAIN);
		assert_int_equal(vmbus_ring_readable(&b.r, &why), 248);

		/* Partly used: 128 free; a 128-byte packet is refused, 120 fits. */
		rbuf_reset(&b, start, true);
		assert_int_equal(put_packet(&b.w, 100, 3, 3, false), 0); /* 16+104+8 = 128 */
		assert_int_equal(vmbus_ring_writable(&b.w), 128);
		assert_int_equal(vmbus_ring_max_payload(&b.w), 96);
		assert_int_equal(put_packet(&b.w, 97, 4, 4, true), -EAGAIN);
		assert_int_equal(put_packet(&b.w, 104, 4, 4, false), -EAGAIN);
		assert_int_equal(put_packet(&b.w, 96, 4, 4, true), 0);
		assert_int_equal(vmbus_ring_writable(&b.w), 8);
		assert_true(vmbus_ring_write_commit(&b.w));
		assert_int_not_equal(ctl(&b)->write_index, ctl(&b)->read_index);
		/* The reader frees the first packet: the writer sees it. */
		reader_take(&b, 1);
		vmbus_ring_read_commit(&b.r);
		assert_int_equal(vmbus_ring_writable(&b.w), 136);
	}
	rbuf_free(&b);
}

static void test_oversized_packets(void **state)
{
	struct rbuf b;
	static uint8_t big[65535u * 8u];
	struct iovec iov[2];
	int niov;

	(void)state;
	/* len8 is 16 bits: a descriptor plus payload is at most 65535*8 bytes. */
	rbuf_new(&b, 1u << 20);
	rbuf_reset(&b, 0, true);
	iov[0] = (struct iovec){big, sizeof(big) - 16 + 1};
	assert_int_equal(vmbus_ring_write(&b.w, iov, 1, 0), -EMSGSIZE);
	/* The zero-copy path must refuse it too, or write_put truncates len8. */
	assert_int_equal(vmbus_ring_write_reserve(&b.w, sizeof(big) - 16 + 1, iov, &niov), -EMSGSIZE);
	assert_int_equal(vmbus_ring_write_reserve(&b.w, 600000, iov, &niov), -EMSGSIZE);
	assert_int_equal(b.w.wr, 0);
	/* The largest legal one goes through and reads back with its length. */
	iov[0] = (struct iovec){big, sizeof(big) - 16};
	assert_int_equal(vmbus_ring_write(&b.w, iov, 1, 9), 0);
	vmbus_ring_write_commit(&b.w);
	struct raw_desc d;
	raw_get(&b, 0, &d, sizeof(d));
	assert_int_equal(d.len8, 65535);
	rbuf_free(&b);
	/* Larger than the ring itself. */
	rbuf_new(&b, 256);
	rbuf_reset(&b, 0, true);
	assert_int_equal(vmbus_ring_write_reserve(&b.w, 257, iov, &niov), -EAGAIN);
	assert_true(vmbus_ring_write_reserve(&b.w, 0xfffffff0u, iov, &niov) < 0);
	assert_int_equal(b.w.wr, 0);
	rbuf_free(&b);
}

/* ---- pending_send_sz and the crossing rule ---- */

/* 512-byte ring, 32-byte packets (payload 8): 15 fit, leaving 32 free. */
static void fill_32s(struct rbuf *b)
{
	int n = 0;

	while (put_packet(&b->w, 8, (uint32_t)n, (uint64_t)n, false) == 0)
		n++;
	assert_int_equal(n, 15);
	vmbus_ring_write_commit(&b->w);
	assert_int_equal(vmbus_ring_writable(&b->w), 32);
}

static void test_read_commit_crossing(void **state)
{
	static const uint32_t starts[] = {0, 8, 256, 488, 504};
	struct rbuf b;

	(void)state;
	rbuf_new(&b, 512);
	for (size_t s = 0; s < sizeof(starts) / sizeof(starts[0]); s++) {
		/* No feature bit: pending_send_sz is not honoured. */
		rbuf_reset(&b, starts[s], false);
		fill_32s(&b);
		assert_false(vmbus_ring_write_wait(&b.w, 96));
		assert_int_equal(ctl(&b)->pending_send_sz, 96);
		for (int i = 0; i < 15; i++) {
			reader_take(&b, 1);
			assert_false(vmbus_ring_read_commit(&b.r));
		}

		/* Feature bit, but pending_send_sz 0. */
		rbuf_reset(&b, starts[s], true);
		fill_32s(&b);
		assert_int_equal(ctl(&b)->pending_send_sz, 0);
		for (int i = 0; i < 15; i++) {
			reader_take(&b, 1);
			assert_false(vmbus_ring_read_commit(&b.r));
		}

		/* pending 96: free goes 32 -> 64 -> 96 (not yet: must be > 96)
		 * -> 128 (signal) -> 160 ... (no more). */
		rbuf_reset(&b, starts[s], true);
		fill_32s(&b);
		assert_false(vmbus_ring_write_wait(&b.w, 96));
		assert_int_equal(ctl(&b)->pending_send_sz, 96);
		assert_false(vmbus_ring_read_commit(&b.r)); /* nothing read yet */
		reader_take(&b, 1);
		assert_false(vmbus_ring_read_commit(&b.r)); /* 64 */
		reader_take(&b, 1);
		assert_false(vmbus_ring_read_commit(&b.r)); /* 96 == pending */
		reader_take(&b, 1);
		assert_true(vmbus_ring_read_commit(&b.r)); /* 128 > 96 */
		assert_false(vmbus_ring_read_commit(&b.r)); /* nothing new */
		reader_take(&b, 1);
		assert_false(vmbus_ring_read_commit(&b.r)); /* 160: stays above */
		reader_take(&b, 11);
		assert_false(vmbus_ring_read_commit(&b.r)); /* empty */
		assert_int_equal(ctl(&b)->read_index, ctl(&b)->write_index);

		/* One commit that jumps over the threshold signals once. */
		rbuf_reset(&b, starts[s], true);
		fill_32s(&b);
		assert_false(vmbus_ring_write_wait(&b.w, 96));
		reader_take(&b, 3);
		assert_true(vmbus_ring_read_commit(&b.r)); /* 32 -> 128 */
		reader_take(&b, 2);
		assert_false(vmbus_ring_read_commit(&b.r));

		/* Already above pending before the read: no signal. */
		rbuf_reset(&b, starts[s], true);
		fill_32s(&b);
		reader_take(&b, 4);
		assert_false(vmbus_ring_read_commit(&b.r)); /* pending 0: 160 free */
		assert_true(vmbus_ring_write_wait(&b.w, 96));
		assert_int_equal(ctl(&b)->pending_send_sz, 0);
		b.w.ctl->pending_send_sz = 96; /* a writer that did not recheck */
		reader_take(&b, 1);
		assert_false(vmbus_ring_read_commit(&b.r)); /* 160 -> 192, was above */

	}
	rbuf_free(&b);
}

/* Writer blocked -> pending_send_sz -> reader's commit signals; and the race
 * where the space appeared before the request. Both rings of a channel
 * (guest->host and host->guest): the roles are the two views either way. */
static void wait_scenario(struct rbuf *b)
{
	rbuf_reset(b, 480, true);
	fill_32s(b);
	/* Blocked: want a 64-byte packet (payload 40): needs > 64 free. */
	assert_int_equal(put_packet(&b->w, 40, 1, 1, true), -EAGAIN);
	assert_false(vmbus_ring_write_wait(&b->w, vmbus_pkt_total(40)));
	assert_int_equal(ctl(b)->pending_send_sz, 64);
	assert_int_equal(b->r.ctl->pending_send_sz, 64); /* the reader's mapping sees it */
	reader_take(b, 1);
	assert_false(vmbus_ring_read_commit(&b->r)); /* 64 free: not > 64 */
	reader_take(b, 1);
	assert_true(vmbus_ring_read_commit(&b->r)); /* 96 free */
	/* Woken: the writer clears the request and writes. */
	vmbus_ring_write_unwait(&b->w);
	assert_int_equal(ctl(b)->pending_send_sz, 0);
	assert_int_equal(put_packet(&b->w, 40, 1, 1, true), 0);
	assert_false(vmbus_ring_write_commit(&b->w)); /* ring was not empty */
	reader_take(b, 1);
	assert_false(vmbus_ring_read_commit(&b->r)); /* no request: no signal */

	/* The race: the reader freed space before the writer asked. */
	rbuf_reset(b, 480, true);
	fill_32s(b);
	assert_int_equal(put_packet(&b->w, 40, 1, 1, false), -EAGAIN);
	reader_take(b, 2);
	assert_false(vmbus_ring_read_commit(&b->r)); /* pending_send_sz still 0 */
	assert_true(vmbus_ring_write_wait(&b->w, vmbus_pkt_total(40)));
	assert_int_equal(ctl(b)->pending_send_sz, 0); /* cleared again */
	assert_int_equal(put_packet(&b->w, 40, 1, 1, false), 0);
	/* Exactly enough is not enough: free 64, need > 64. */
	rbuf_reset(b, 0, true);
	fill_32s(b);
	reader_take(b, 1);
	vmbus_ring_read_commit(&b->r);
	assert_false(vmbus_ring_write_wait(&b->w, 64));
	assert_int_equal(ctl(b)->pending_send_sz, 64);
}

static void test_write_wait_both_directions(void **state)
{
	struct rbuf tx, rx;

	(void)state;
	rbuf_new(&tx, 512); /* guest writes (map[0]), host reads (map[1]) */
	rbuf_new(&rx, 512); /* host writes, guest reads */
	wait_scenario(&tx);
	wait_scenario(&rx);
	rbuf_free(&tx);
	rbuf_free(&rx);
}

/* ---- interrupt mask ---- */

static void test_interrupt_mask(void **state)
{
	struct rbuf b;

	(void)state;
	rbuf_new(&b, 512);
	for (uint32_t start = 0; start < 512; start += 248) {
		rbuf_reset(&b, start, true);
		/* Nothing written: nothing to signal. */
		assert_false(vmbus_ring_write_commit(&b.w));
		/* Reader masked: no signal even on empty -> non-empty. */
		vmbus_ring_mask(&b.r);
		assert_int_not_equal(ctl(&b)->interrupt_mask, 0);
		assert_int_equal(put_packet(&b.w, 8, 1, 1, false), 0);
		assert_false(vmbus_ring_write_commit(&b.w));
		/* Unmasked, ring non-empty: no signal. */
		assert_true(vmbus_ring_unmask(&b.r));
		assert_int_equal(ctl(&b)->interrupt_mask, 0);
		assert_int_equal(put_packet(&b.w, 8, 2, 2, false), 0);
		assert_false(vmbus_ring_write_commit(&b.w));
		/* The reader drains: the next write signals, once. */
		reader_take(&b, 2);
		vmbus_ring_read_commit(&b.r);
		assert_int_equal(put_packet(&b.w, 8, 3, 3, false), 0);
		assert_int_equal(put_packet(&b.w, 8, 4, 4, false), 0);
		assert_true(vmbus_ring_write_commit(&b.w)); /* a batch of two: one signal */
		assert_false(vmbus_ring_write_commit(&b.w)); /* nothing new */
		assert_int_equal(put_packet(&b.w, 8, 5, 5, false), 0);
		assert_false(vmbus_ring_write_commit(&b.w)); /* already non-empty */
		/* Partly read is still non-empty. */
		reader_take(&b, 2);
		vmbus_ring_read_commit(&b.r);
		assert_int_equal(put_packet(&b.w, 8, 6, 6, false), 0);
		assert_false(vmbus_ring_write_commit(&b.w));
		/* Read locally but not published: the writer still sees it non-empty. */
		reader_take(&b, 2);
		assert_int_equal(put_packet(&b.w, 8, 7, 7, false), 0);
		assert_false(vmbus_ring_write_commit(&b.w));
		vmbus_ring_read_commit(&b.r);
		reader_take(&b, 1);
		vmbus_ring_read_commit(&b.r);
		assert_int_equal(put_packet(&b.w, 8, 8, 8, false), 0);
		assert_true(vmbus_ring_write_commit(&b.w));
	}
	rbuf_free(&b);
}

/* Reader masks, drains, writer writes while masked (no signal), unmask
 * reports the data so the reader drains again instead of sleeping. */
static void test_no_lost_wakeup(void **state)
{
	struct rbuf b;
	const char *why = NULL;

	(void)state;
	rbuf_new(&b, 256);
	rbuf_reset(&b, 200, true);
	assert_int_equal(put_packet(&b.w, 8, 1, 1, false), 0);
	assert_true(vmbus_ring_write_commit(&b.w)); /* the wake-up */

	vmbus_ring_mask(&b.r);
	assert_int_equal(vmbus_ring_readable(&b.r, &why), 32);
	reader_take(&b, 1);
	vmbus_ring_read_commit(&b.r);
	assert_int_equal(vmbus_ring_readable(&b.r, &why), 0); /* drained */
	/* Writer, between the drain and the unmask. */
	assert_int_equal(put_packet(&b.w, 8, 2, 2, false), 0);
	assert_false(vmbus_ring_write_commit(&b.w)); /* masked: no signal */
	/* Unmask sees it: drain again. */
	assert_true(vmbus_ring_unmask(&b.r));
	vmbus_ring_mask(&b.r);
	assert_int_equal(vmbus_ring_readable(&b.r, &why), 32);
	reader_take(&b, 1);
	vmbus_ring_read_commit(&b.r);
	assert_false(vmbus_ring_unmask(&b.r)); /* empty now: safe to sleep */
	/* ... and the next write signals. */
	assert_int_equal(put_packet(&b.w, 8, 3, 3, false), 0);
	assert_true(vmbus_ring_write_commit(&b.w));
	rbuf_free(&b);
}

/* ---- corrupt descriptors ---- */

static const char *const WHY_SHORT = "fewer readable bytes than a packet descriptor and trailer";
static const char *const WHY_OFF8 = "descriptor offset8 below 2";
static const char *const WHY_LEN8 = "descriptor offset8 beyond len8";
static const char *const WHY_BEYOND = "descriptor len8 beyond the readable bytes";
static const char *const WHY_TYPE = "unknown descriptor type";
static const char *const WHY_WIDX = "write_index out of range or unaligned";
static const char *const WHY_RIDX = "read_index out of range or unaligned";

struct corrupt_case {
	uint16_t type, offset8, len8;
	uint32_t written; /* bytes the write index claims */
	const char *why;
};

static void test_corrupt_descriptors(void **state)
{
	static const struct corrupt_case cases[] = {
		{6, 0, 3, 32, WHY_OFF8},
		{6, 1, 3, 32, WHY_OFF8},
		{6, 0, 0, 32, WHY_OFF8},
		{6, 3, 2, 32, WHY_LEN8},
		{6, 0xffff, 4, 32, WHY_LEN8},
		{6, 2, 4, 32, WHY_BEYOND},       /* 40 bytes claimed, 32 written */
		{6, 2, 3, 24, WHY_BEYOND},       /* trailer missing */
		{6, 2, 0xffff, 128, WHY_BEYOND}, /* far beyond the ring */
		{6, 2, 31, 248, WHY_BEYOND},     /* 256 bytes: more than all of it */
		{0, 2, 3, 32, WHY_TYPE},
		{7, 2, 3, 32, WHY_TYPE},
		{1, 2, 3, 32, WHY_TYPE},
		{10, 2, 3, 32, WHY_TYPE},
		{12, 2, 3, 32, WHY_TYPE},
		{0xffff, 2, 3, 32, WHY_TYPE},
		{6, 2, 2, 16, WHY_SHORT}, /* a descriptor but no trailer */
		{6, 2, 2, 8, WHY_SHORT},
	};
	static const uint32_t starts[] = {0, 8, 120, 232, 240, 248};
	struct rbuf b;

	(void)state;
	rbuf_new(&b, 256);
	for (size_t s = 0; s < sizeof(starts) / sizeof(starts[0]); s++) {
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			const struct corrupt_case *c = &cases[i];
			const char *why = NULL;
			struct vmbus_pkt pkt;
			uint32_t at = starts[s];

			rbuf_reset(&b, at, false);
			raw_desc_put(&b, at, c->type, c->offset8, c->len8);
			ctl(&b)->write_index = (at + c->written) % 256;
			assert_int_equal(vmbus_ring_readable(&b.r, &why), c->written);
			memset(&pkt, 0x5a, sizeof(pkt));
			assert_int_equal(vmbus_ring_peek(&b.r, b.r.rd, &pkt, &why), -EBADMSG);
			assert_non_null(why);
			assert_string_equal(why, c->why);
		}
		/* A good packet then a corrupt one: the first reads, the second fails. */
		rbuf_reset(&b, starts[s], false);
		assert_int_equal(put_packet(&b.w, 8, 1, 1, false), 0);
		vmbus_ring_write_commit(&b.w);
		raw_desc_put(&b, (starts[s] + 32) % 256, 6, 1, 3);
		ctl(&b)->write_index = (starts[s] + 64) % 256;
		const char *why = NULL;
		struct vmbus_pkt pkt;
		assert_int_equal(vmbus_ring_readable(&b.r, &why), 64);
		assert_int_equal(vmbus_ring_peek(&b.r, b.r.rd, &pkt, &why), 0);
		assert_int_equal(vmbus_ring_peek(&b.r, pkt.next, &pkt, &why), -EBADMSG);
		assert_string_equal(why, WHY_OFF8);
	}
	rbuf_free(&b);
}

/* Descriptors that are unusual but legal pass: a completion, a longer header. */
static void test_legal_unusual_descriptors(void **state)
{
	struct rbuf b;
	const char *why = NULL;
	struct vmbus_pkt pkt;

	(void)state;
	rbuf_new(&b, 256);
	rbuf_reset(&b, 248, false);
	/* A bare completion across the wrap: descriptor 248..263, trailer 8..15. */
	raw_desc_put(&b, 248, VMBUS_PKT_COMP, 2, 2);
	/* In-band data with 8 bytes of extra header: payload at +24, 16 bytes. */
	raw_desc_put(&b, 16, VMBUS_PKT_DATA_INBAND, 3, 5);
	ctl(&b)->write_index = 16 + 5 * 8 + 8;
	assert_int_equal(vmbus_ring_readable(&b.r, &why), 24 + 48);
	assert_int_equal(vmbus_ring_peek(&b.r, b.r.rd, &pkt, &why), 0);
	assert_int_equal(pkt.type, VMBUS_PKT_COMP);
	assert_true(pkt.xid == 0x77);
	assert_int_equal(pkt.payload, 8);
	assert_int_equal(pkt.payload_len, 0);
	assert_int_equal(pkt.next, 16);
	assert_int_equal(vmbus_ring_peek(&b.r, pkt.next, &pkt, &why), 0);
	assert_int_equal(pkt.type, VMBUS_PKT_DATA_INBAND);
	assert_int_equal(pkt.start, 16);
	assert_int_equal(pkt.payload, 40);
	assert_int_equal(pkt.payload_len, 16);
	assert_int_equal(pkt.next, 64);
	assert_int_equal(vmbus_ring_peek(&b.r, pkt.next, &pkt, &why), -EAGAIN);
	rbuf_free(&b);
}

static void test_corrupt_indices(void **state)
{
	static const uint32_t bad[] = {256, 264, 4, 12, 255, 0x80000000u, 0xfffffff8u, 0xffffffffu};
	struct rbuf b;
	struct vmbus_ring tmp;

	(void)state;
	rbuf_new(&b, 256);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *why = NULL;
		struct vmbus_pkt pkt;

		/* The writer's index, as the reader loads it. */
		rbuf_reset(&b, 16, false);
		ctl(&b)->write_index = bad[i];
		assert_int_equal(vmbus_ring_readable(&b.r, &why), -EBADMSG);
		assert_string_equal(why, WHY_WIDX);
		assert_non_null(b.r.broken);
		assert_string_equal(b.r.broken, WHY_WIDX);
		/* The previous snapshot stays what peek works against: still empty. */
		assert_int_equal(vmbus_ring_peek(&b.r, b.r.rd, &pkt, &why), -EAGAIN);
		/* read_commit with a corrupt write index never signals. */
		b.r.rd = 24;
		vmbus_ring_writer_init(&b.w);
		ctl(&b)->pending_send_sz = 8;
		assert_false(vmbus_ring_read_commit(&b.r));

		/* The reader's index, as the writer loads it. */
		rbuf_reset(&b, 16, false);
		ctl(&b)->read_index = bad[i];
		assert_int_equal(vmbus_ring_writable(&b.w), 0);
		assert_non_null(b.w.broken);
		assert_string_equal(b.w.broken, WHY_RIDX);
		assert_int_equal(vmbus_ring_max_payload(&b.w), 0);
		assert_int_equal(put_packet(&b.w, 8, 1, 1, false), -EAGAIN);
		assert_int_equal(b.w.wr, 16);
		for (uint32_t k = 0; k < 256; k++)
			assert_int_equal(data(&b)[k], FILL);

		/* Attaching to a ring with a bad index fails. */
		rbuf_reset(&b, 0, false);
		ctl(&b)->write_index = bad[i];
		assert_int_equal(vmbus_ring_attach(&tmp, ctl_page(&b, 1), CTL_PAGE, 256), -EBADMSG);
		ctl(&b)->write_index = 0;
		ctl(&b)->read_index = bad[i];
		assert_int_equal(vmbus_ring_attach(&tmp, ctl_page(&b, 1), CTL_PAGE, 256), -EBADMSG);
	}
	/* Bad geometry. */
	assert_int_equal(vmbus_ring_attach(&tmp, ctl_page(&b, 1), CTL_PAGE, 0), -EINVAL);
	assert_int_equal(vmbus_ring_attach(&tmp, ctl_page(&b, 1), CTL_PAGE, 252), -EINVAL);
	assert_int_equal(vmbus_ring_attach(&tmp, ctl_page(&b, 1), 32, 256), -EINVAL);
	assert_int_equal(vmbus_ring_attach(&tmp, ctl_page(&b, 1), CTL_PAGE, 1u << 31), -EINVAL);
	rbuf_free(&b);
}

/* Garbage everywhere: random descriptors and indices never make peek read
 * outside the data area (the guard page would fault) and every accepted
 * packet lies within the readable bytes. */
static void test_random_garbage(void **state)
{
	struct rbuf b;
	uint64_t x = 0x9e3779b97f4a7c15ull;

	(void)state;
	rbuf_new(&b, 256);
	for (int iter = 0; iter < 20000; iter++) {
		const char *why = NULL;
		struct vmbus_pkt pkt;
		long avail;

		rbuf_reset(&b, 0, false);
		for (uint32_t k = 0; k < 256; k += 8) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			uint64_t v = x;
			/* Bias toward plausible descriptors. */
			if ((v & 3) == 0)
				v = (v & ~0xffffull) | 6;
			if ((v & 12) == 0)
				v = (v & 0xffffffff0000ffffull) | (2ull << 16);
			if ((v & 48) == 0)
				v = (v & 0xffff0000ffffffffull) | ((uint64_t)((v >> 40) & 31) << 32);
			memcpy(data(&b) + k, &v, 8);
		}
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		ctl(&b)->read_index = (uint32_t)(x & 0xf8);
		ctl(&b)->write_index = (uint32_t)((x >> 8) & 0xf8);
		assert_int_equal(vmbus_ring_attach(&b.r, ctl_page(&b, 1), CTL_PAGE, 256), 0);
		avail = vmbus_ring_readable(&b.r, &why);
		assert_true(avail >= 0 && avail < 256);
		uint32_t at = b.r.rd, walked = 0;
		int rc;
		while ((rc = vmbus_ring_peek(&b.r, at, &pkt, &why)) == 0) {
			uint32_t len = (pkt.next + 256 - at) % 256;
			assert_true(len >= 24 && len <= (uint32_t)avail - walked);
			walked += len;
			at = pkt.next;
		}
		assert_true(rc == -EAGAIN || rc == -EBADMSG);
		if (rc == -EAGAIN)
			assert_int_equal(walked, avail);
	}
	rbuf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wrap_every_alignment_256),
		cmocka_unit_test(test_wrap_every_alignment_512),
		cmocka_unit_test(test_wrap_stream),
		cmocka_unit_test(test_never_completely_full),
		cmocka_unit_test(test_oversized_packets),
		cmocka_unit_test(test_read_commit_crossing),
		cmocka_unit_test(test_write_wait_both_directions),
		cmocka_unit_test(test_interrupt_mask),
		cmocka_unit_test(test_no_lost_wakeup),
		cmocka_unit_test(test_corrupt_descriptors),
		cmocka_unit_test(test_legal_unusual_descriptors),
		cmocka_unit_test(test_corrupt_indices),
		cmocka_unit_test(test_random_garbage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
