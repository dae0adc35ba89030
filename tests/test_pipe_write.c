/* VMBus pipe framing (src/vmbus/pipe.c), protocol.md §5: every in-band packet's
 * payload is { u32 type = 1; u32 data_size } and data; at most 16384 data
 * bytes per packet; the pipe is a byte stream.
 *
 * The writer's side: writes above 16 KiB split, a write larger than the room
 * is taken in part, zero-copy reservations, pipe_tx_wait and its signal. The
 * ring and pipes are pipe_fixture.h's. */
#include "pipe_fixture.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* ---- writes above 16 KiB split ---- */

static void test_write_splits_16k(void **state)
{
	static const size_t lens[] = {1, 7, 100, 16383, 16384, 16385, 32768, 40000, 49153, 100000};
	static uint8_t src[100000], dst[100000];
	struct pbuf b;
	struct raw_pkt pk[16];

	(void)state;
	pbuf_new(&b, 128u << 10);
	sfill(src, 0, sizeof(src));
	const uint32_t starts[] = {0, b.ring.size - 40, b.ring.size - 16392, b.ring.size - 8};
	for (size_t s = 0; s < sizeof(starts) / sizeof(starts[0]); s++) {
		for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			size_t n = lens[i];
			pbuf_reset(&b, starts[s]);
			assert_int_equal(pipe_tx_write(&b.tx, src, n), n);
			assert_true(pipe_tx_commit(&b.tx));
			uint32_t np = raw_walk(&b, starts[s], b.ring.ctl->write_index, pk, 16);
			assert_int_equal(np, (n + 16383) / 16384);
			size_t off = 0;
			for (uint32_t k = 0; k < np; k++) {
				uint32_t want = n - off > 16384 ? 16384 : (uint32_t)(n - off);
				assert_int_equal(pk[k].type, VMBUS_PKT_DATA_INBAND);
				assert_int_equal(pk[k].offset8, 2);
				assert_int_equal(pk[k].ptype, PIPE_TYPE_DATA);
				assert_int_equal(pk[k].data_size, want);
				assert_int_equal(pk[k].len8, (16 + pad8(8 + want)) / 8);
				raw_get(&b.ring, pk[k].data, dst, want);
				scheck(dst, off, want);
				off += want;
			}
			assert_int_equal(off, n);
			memset(dst, 0, n);
			assert_int_equal(drain(&b, dst, sizeof(dst)), n);
			scheck(dst, 0, n);
			assert_int_equal(b.ring.ctl->read_index, b.ring.ctl->write_index);
		}
	}
	/* The zero-copy path caps a reservation at 16384 as well. */
	struct iovec iov[2];
	int niov;
	pbuf_reset(&b, 0);
	assert_int_equal(pipe_tx_reserve(&b.tx, 100000, iov, &niov), PIPE_MAX_DATA);
	assert_int_equal(iov[0].iov_len + (niov == 2 ? iov[1].iov_len : 0), PIPE_MAX_DATA);
	pipe_tx_put(&b.tx, PIPE_MAX_DATA);
	pipe_tx_commit(&b.tx);
	assert_int_equal(raw_walk(&b, 0, b.ring.ctl->write_index, pk, 16), 1);
	assert_int_equal(pk[0].data_size, PIPE_MAX_DATA);
	pbuf_free(&b);
}

/* A write larger than the room is taken in part; the rest goes later. */
static void test_write_short_when_full(void **state)
{
	static uint8_t src[40000], dst[40000];
	struct pbuf b;
	struct raw_pkt pk[64];
	struct iovec iov[2];
	int niov;

	(void)state;
	sfill(src, 0, sizeof(src));
	pbuf_new(&b, 4096);
	pbuf_reset(&b, 4000);
	size_t done = pipe_tx_write(&b.tx, src, sizeof(src));
	assert_true(done > 0 && done < 4096);
	/* Full: not even one byte fits. */
	assert_true(vmbus_ring_max_payload(&b.ring.w) <= PIPE_HDR_LEN);
	assert_int_equal(pipe_tx_reserve(&b.tx, 1, iov, &niov), 0);
	pipe_tx_commit(&b.tx);
	uint32_t np = raw_walk(&b, 4000, b.ring.ctl->write_index, pk, 64);
	size_t sum = 0;
	for (uint32_t k = 0; k < np; k++)
		sum += pk[k].data_size;
	assert_int_equal(sum, done);
	/* Keep going: everything arrives in order. */
	size_t got = 0;
	while (got < sizeof(src)) {
		got += drain(&b, dst + got, sizeof(dst) - got);
		done += pipe_tx_write(&b.tx, src + done, sizeof(src) - done);
		pipe_tx_commit(&b.tx);
		assert_true(got <= done);
	}
	assert_int_equal(done, sizeof(src));
	scheck(dst, 0, sizeof(dst));
	pbuf_free(&b);
}

/* ---- zero-copy writes ---- */

static void test_reserve_put(void **state)
{
	struct pbuf b;
	struct iovec iov[2];
	struct raw_pkt pk[4];
	uint8_t dst[1000];
	int niov;

	(void)state;
	pbuf_new(&b, 4096);
	pbuf_reset(&b, 0);
	/* Put fewer than reserved. */
	assert_int_equal(pipe_tx_reserve(&b.tx, 1000, iov, &niov), 1000);
	assert_int_equal(niov, 1);
	assert_ptr_equal(iov[0].iov_base, b.ring.wdata + 24);
	assert_int_equal(iov[0].iov_len, 1000);
	sfill(iov[0].iov_base, 0, 300);
	pipe_tx_put(&b.tx, 300);
	assert_int_equal(b.ring.w.wr, vmbus_pkt_total(308));
	assert_true(pipe_tx_commit(&b.tx));
	assert_int_equal(raw_walk(&b, 0, b.ring.ctl->write_index, pk, 4), 1);
	assert_int_equal(pk[0].data_size, 300);
	assert_int_equal(pk[0].len8, (16 + 312) / 8);
	assert_int_equal(drain(&b, dst, sizeof(dst)), 300);
	scheck(dst, 0, 300);

	/* put(0) and put(n > capacity) drop the reservation; put without one does nothing. */
	uint32_t wr = b.ring.w.wr;
	assert_int_equal(pipe_tx_reserve(&b.tx, 100, iov, &niov), 100);
	pipe_tx_put(&b.tx, 0);
	assert_int_equal(b.ring.w.wr, wr);
	assert_int_equal(pipe_tx_reserve(&b.tx, 100, iov, &niov), 100);
	pipe_tx_put(&b.tx, 101);
	assert_int_equal(b.ring.w.wr, wr);
	pipe_tx_put(&b.tx, 50);
	assert_int_equal(b.ring.w.wr, wr);
	assert_false(pipe_tx_commit(&b.tx));
	assert_int_equal(pipe_rx_read(&b.rx, dst, 100), 0);
	assert_int_equal(pipe_tx_reserve(&b.tx, 0, iov, &niov), 0);

	/* Capacity bounded by the room: 512 free -> 480 payload -> 472 data. */
	pbuf_reset(&b, 0);
	for (int i = 0; i < 7; i++) {
		assert_int_equal(pipe_tx_reserve(&b.tx, 456, iov, &niov), 456); /* 16+464+8 = 488 */
		pipe_tx_put(&b.tx, 456);
	}
	pipe_tx_commit(&b.tx);
	assert_int_equal(vmbus_ring_writable(&b.ring.w), 4096 - 7 * 488);
	assert_int_equal(pipe_tx_reserve(&b.tx, 1000, iov, &niov), 4096 - 7 * 488 - 8 - 24 - 8);

	/* Where the header lands around the wrap. */
	struct {
		uint32_t start;
		int niov;
		uint32_t first_off, first_len;
	} w[] = {
	    {4096 - 24, 1, 0, 100},          /* header fills the tail exactly */
	    {4096 - 16, 1, 8, 100},          /* descriptor fills the tail */
	    {4096 - 32, 2, 4096 - 8, 8},     /* data split 8 + 92 */
	    {4096 - 128, 1, 4096 - 104, 100} /* data ends 4 short of the end */
	};
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		pbuf_reset(&b, w[i].start);
		assert_int_equal(pipe_tx_reserve(&b.tx, 100, iov, &niov), 100);
		assert_int_equal(niov, w[i].niov);
		assert_ptr_equal(iov[0].iov_base, b.ring.wdata + w[i].first_off);
		assert_int_equal(iov[0].iov_len, w[i].first_len);
		if (niov == 2) {
			assert_ptr_equal(iov[1].iov_base, b.ring.wdata);
			assert_int_equal(iov[1].iov_len, 100 - w[i].first_len);
		}
		size_t off = 0;
		for (int k = 0; k < niov; k++) {
			sfill(iov[k].iov_base, off, iov[k].iov_len);
			off += iov[k].iov_len;
		}
		pipe_tx_put(&b.tx, 100);
		pipe_tx_commit(&b.tx);
		assert_int_equal(raw_walk(&b, w[i].start, b.ring.ctl->write_index, pk, 4), 1);
		assert_int_equal(pk[0].ptype, PIPE_TYPE_DATA);
		assert_int_equal(pk[0].data_size, 100);
		assert_int_equal(drain(&b, dst, sizeof(dst)), 100);
		scheck(dst, 0, 100);
	}
	pbuf_free(&b);
}

/* ---- pipe_tx_wait ---- */

static void test_tx_wait(void **state)
{
	static uint8_t src[8192];
	struct pbuf b;
	struct iovec iov[2];
	uint8_t dst[8192];
	int niov;

	(void)state;
	sfill(src, 0, sizeof(src));
	pbuf_new(&b, 4096);
	pbuf_reset(&b, 0);
	/* Ten 400-byte writes: packets of 16+408+8 = 432 bytes; nine fit (3888). */
	for (int i = 0; i < 9; i++)
		assert_int_equal(pipe_tx_write(&b.tx, src + 400 * i, 400), 400);
	pipe_tx_commit(&b.tx);
	assert_int_equal(vmbus_ring_writable(&b.ring.w), 4096 - 9 * 432);
	/* 208 free: a packet of at most 200 bytes, 168 of them data; 300 wanted. */
	assert_int_equal(pipe_tx_reserve(&b.tx, 300, iov, &niov), 4096 - 9 * 432 - 40);
	pipe_tx_put(&b.tx, 0);
	assert_false(pipe_tx_wait(&b.tx, 300));
	assert_int_equal(b.ring.ctl->pending_send_sz, vmbus_pkt_total(PIPE_HDR_LEN + 300));
	/* The reader frees one packet (640 free: > 336): signal. */
	assert_int_equal(pipe_rx_read(&b.rx, dst, 400), 400);
	assert_true(pipe_rx_commit(&b.rx));
	assert_int_equal(pipe_rx_read(&b.rx, dst + 400, 400), 400);
	assert_false(pipe_rx_commit(&b.rx)); /* already above */
	vmbus_ring_write_unwait(&b.ring.w);
	assert_true(pipe_tx_reserve(&b.tx, 300, iov, &niov) >= 300);
	pipe_tx_put(&b.tx, 0);

	/* Signalled at the first commit that makes min_data fit, not before. */
	pbuf_reset(&b, 0);
	for (int i = 0; i < 9; i++)
		assert_int_equal(pipe_tx_write(&b.tx, src, 400), 400);
	pipe_tx_commit(&b.tx);
	const uint32_t need = vmbus_pkt_total(PIPE_HDR_LEN + 1000); /* 1032 */
	assert_false(pipe_tx_wait(&b.tx, 1000));
	assert_int_equal(b.ring.ctl->pending_send_sz, need);
	bool signalled = false;
	for (int i = 0; i < 9 && !signalled; i++) {
		uint32_t before = vmbus_ring_writable(&b.ring.w);
		assert_int_equal(pipe_rx_read(&b.rx, dst, 400), 400);
		signalled = pipe_rx_commit(&b.rx);
		uint32_t after = vmbus_ring_writable(&b.ring.w);
		assert_int_equal(signalled, before <= need && after > need);
		if (!signalled)
			assert_true(pipe_tx_reserve(&b.tx, 1000, iov, &niov) < 1000);
		pipe_tx_put(&b.tx, 0);
	}
	assert_true(signalled);
	assert_int_equal(pipe_tx_reserve(&b.tx, 1000, iov, &niov), 1000);
	pipe_tx_put(&b.tx, 0);

	/* min_data above a packet's maximum asks for one full packet. */
	pbuf_free(&b);
	pbuf_new(&b, 64u << 10);
	pbuf_reset(&b, 0);
	assert_true(pipe_tx_wait(&b.tx, 100000)); /* it fits already */
	assert_int_equal(b.ring.ctl->pending_send_sz, 0);
	static uint8_t big[60000];
	assert_int_equal(pipe_tx_write(&b.tx, big, sizeof(big)), sizeof(big));
	assert_false(pipe_tx_wait(&b.tx, 100000));
	assert_int_equal(b.ring.ctl->pending_send_sz,
	                 vmbus_pkt_total(PIPE_HDR_LEN + PIPE_MAX_DATA));

	/* The race: room appeared before the request. */
	pbuf_reset(&b, 0);
	assert_true(pipe_tx_wait(&b.tx, 16384));
	assert_int_equal(b.ring.ctl->pending_send_sz, 0);
	assert_int_equal(pipe_tx_reserve(&b.tx, 16384, iov, &niov), 16384);
	pipe_tx_put(&b.tx, 0);

	/* A request the ring can never meet (more than its size) would never be
	 * signalled: it is met when the ring empties. */
	pbuf_free(&b);
	pbuf_new(&b, 4096);
	pbuf_reset(&b, 0);
	assert_int_equal(pipe_tx_write(&b.tx, src, 1000), 1000);
	pipe_tx_commit(&b.tx);
	assert_false(pipe_tx_wait(&b.tx, 8000));
	assert_true(b.ring.ctl->pending_send_sz < b.ring.size);
	assert_int_equal(pipe_rx_read(&b.rx, dst, 1000), 1000);
	assert_true(pipe_rx_commit(&b.rx)); /* emptied: signal */
	pbuf_reset(&b, 0);
	assert_int_equal(pipe_tx_write(&b.tx, src, 1000), 1000);
	assert_int_equal(pipe_tx_write(&b.tx, src, 1000), 1000);
	pipe_tx_commit(&b.tx);
	assert_false(pipe_tx_wait(&b.tx, PIPE_MAX_DATA));
	assert_int_equal(pipe_rx_read(&b.rx, dst, 1000), 1000);
	assert_false(pipe_rx_commit(&b.rx)); /* not empty yet */
	assert_int_equal(pipe_rx_read(&b.rx, dst, 1000), 1000);
	assert_true(pipe_rx_commit(&b.rx)); /* empty: the best the ring can do */
	vmbus_ring_write_unwait(&b.ring.w);
	assert_true(pipe_tx_wait(&b.tx, PIPE_MAX_DATA)); /* empty ring: go ahead */
	assert_int_equal(pipe_tx_write(&b.tx, src, 8192), 4096 - 40);

	pbuf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_write_splits_16k),
	    cmocka_unit_test(test_write_short_when_full),
	    cmocka_unit_test(test_reserve_put),
	    cmocka_unit_test(test_tx_wait),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
