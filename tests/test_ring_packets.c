/* VMBus ring buffers (src/vmbus/ring.c), protocol.md §4: packets written and
 * read at every alignment class of a small ring, the ring never completely
 * full, packets too large for a descriptor or the ring. The ring in memory
 * is ring_fixture.h's. */
#include "ring_fixture.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

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
			assert_int_equal(b.ctl->write_index, start);
			assert_int_equal(vmbus_ring_readable(&b.r, &why), 0);
			assert_true(vmbus_ring_write_commit(&b.w));
			assert_int_equal(b.ctl->write_index, end);
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
				assert_int_equal(b.data[(start + k) % size], FILL);

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
				assert_ptr_equal(iov[0].iov_base, b.data + pkt.payload);
				assert_int_equal(iov[0].iov_len,
				                 crosses ? size - pkt.payload : len);
				if (crosses) {
					assert_ptr_equal(iov[1].iov_base, b.data);
					assert_int_equal(iov[0].iov_len + iov[1].iov_len, len);
				}
			}
			b.r.rd = pkt.next;
			assert_int_equal(vmbus_ring_peek(&b.r, b.r.rd, &pkt, &why), -EAGAIN);
			assert_false(vmbus_ring_read_commit(&b.r));
			assert_int_equal(b.ctl->read_index, end);
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
		assert_int_not_equal(b.ctl->write_index, b.ctl->read_index);
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
		assert_int_equal(b.ctl->write_index, start);
		for (uint32_t k = 0; k < 256; k++)
			assert_int_equal(b.data[k], FILL);

		assert_int_equal(put_packet(&b.w, 224, 1, 1, start & 8), 0);
		assert_true(vmbus_ring_write_commit(&b.w));
		assert_int_equal(b.ctl->write_index, (start + 248) % 256);
		assert_int_not_equal(b.ctl->write_index, b.ctl->read_index);
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
		assert_int_not_equal(b.ctl->write_index, b.ctl->read_index);
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
	assert_int_equal(vmbus_ring_write_reserve(&b.w, sizeof(big) - 16 + 1, iov, &niov),
	                 -EMSGSIZE);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_wrap_every_alignment_256),
	    cmocka_unit_test(test_wrap_every_alignment_512),
	    cmocka_unit_test(test_wrap_stream),
	    cmocka_unit_test(test_never_completely_full),
	    cmocka_unit_test(test_oversized_packets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
