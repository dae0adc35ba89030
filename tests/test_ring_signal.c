/* VMBus ring buffers (src/vmbus/ring.c), protocol.md §4: when a commit must
 * signal the other side: the pending_send_sz crossing rule, the writer's
 * wait and the race with the reader, the interrupt mask and the wake-up that
 * must not be lost. The ring in memory is ring_fixture.h's. */
#include "ring_fixture.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* ---- pending_send_sz and the crossing rule ---- */

/* The reader takes fill_32s's 15 packets one commit at a time: none of the
 * commits signals the writer. */
static void take_each_silently(struct rbuf *b)
{
	for (int i = 0; i < 15; i++) {
		reader_take(b, 1);
		assert_false(vmbus_ring_read_commit(&b->r));
	}
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
		assert_int_equal(b.ctl->pending_send_sz, 96);
		take_each_silently(&b);

		/* Feature bit, but pending_send_sz 0. */
		rbuf_reset(&b, starts[s], true);
		fill_32s(&b);
		assert_int_equal(b.ctl->pending_send_sz, 0);
		take_each_silently(&b);

		/* pending 96: free goes 32 -> 64 -> 96 (not yet: must be > 96)
		 * -> 128 (signal) -> 160 ... (no more). */
		rbuf_reset(&b, starts[s], true);
		fill_32s(&b);
		assert_false(vmbus_ring_write_wait(&b.w, 96));
		assert_int_equal(b.ctl->pending_send_sz, 96);
		assert_false(vmbus_ring_read_commit(&b.r)); /* nothing read yet */
		reader_take(&b, 1);
		assert_false(vmbus_ring_read_commit(&b.r)); /* 64 */
		reader_take(&b, 1);
		assert_false(vmbus_ring_read_commit(&b.r)); /* 96 == pending */
		reader_take(&b, 1);
		assert_true(vmbus_ring_read_commit(&b.r));  /* 128 > 96 */
		assert_false(vmbus_ring_read_commit(&b.r)); /* nothing new */
		reader_take(&b, 1);
		assert_false(vmbus_ring_read_commit(&b.r)); /* 160: stays above */
		reader_take(&b, 11);
		assert_false(vmbus_ring_read_commit(&b.r)); /* empty */
		assert_int_equal(b.ctl->read_index, b.ctl->write_index);

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
		assert_int_equal(b.ctl->pending_send_sz, 0);
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
	assert_int_equal(b->ctl->pending_send_sz, 64);
	assert_int_equal(b->r.ctl->pending_send_sz, 64); /* the reader's mapping sees it */
	reader_take(b, 1);
	assert_false(vmbus_ring_read_commit(&b->r)); /* 64 free: not > 64 */
	reader_take(b, 1);
	assert_true(vmbus_ring_read_commit(&b->r)); /* 96 free */
	/* Woken: the writer clears the request and writes. */
	vmbus_ring_write_unwait(&b->w);
	assert_int_equal(b->ctl->pending_send_sz, 0);
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
	assert_int_equal(b->ctl->pending_send_sz, 0); /* cleared again */
	assert_int_equal(put_packet(&b->w, 40, 1, 1, false), 0);
	/* Exactly enough is not enough: free 64, need > 64. */
	rbuf_reset(b, 0, true);
	fill_32s(b);
	reader_take(b, 1);
	vmbus_ring_read_commit(&b->r);
	assert_false(vmbus_ring_write_wait(&b->w, 64));
	assert_int_equal(b->ctl->pending_send_sz, 64);
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
		assert_int_not_equal(b.ctl->interrupt_mask, 0);
		assert_int_equal(put_packet(&b.w, 8, 1, 1, false), 0);
		assert_false(vmbus_ring_write_commit(&b.w));
		/* Unmasked, ring non-empty: no signal. */
		assert_true(vmbus_ring_unmask(&b.r));
		assert_int_equal(b.ctl->interrupt_mask, 0);
		assert_int_equal(put_packet(&b.w, 8, 2, 2, false), 0);
		assert_false(vmbus_ring_write_commit(&b.w));
		/* The reader drains: the next write signals, once. */
		reader_take(&b, 2);
		vmbus_ring_read_commit(&b.r);
		assert_int_equal(put_packet(&b.w, 8, 3, 3, false), 0);
		assert_int_equal(put_packet(&b.w, 8, 4, 4, false), 0);
		assert_true(vmbus_ring_write_commit(&b.w));  /* a batch of two: one signal */
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_read_commit_crossing),
	    cmocka_unit_test(test_write_wait_both_directions),
	    cmocka_unit_test(test_interrupt_mask),
	    cmocka_unit_test(test_no_lost_wakeup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
