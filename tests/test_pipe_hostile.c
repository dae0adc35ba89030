/* VMBus pipe framing (src/vmbus/pipe.c), protocol.md §5: every in-band packet's
 * payload is { u32 type = 1; u32 data_size } and data; at most 16384 data
 * bytes per packet; the pipe is a byte stream.
 *
 * What the other side writes is untrusted: corrupt pipe headers and a ring
 * changed under the reader are refused with the reason, and nothing after
 * them is read. The ring and pipes are pipe_fixture.h's. */
#include "pipe_fixture.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* ---- corrupt pipe headers ---- */

static const char *const WHY_NOT_INBAND = "pipe packet is not in-band data";
static const char *const WHY_SHORT = "pipe packet shorter than its header";
static const char *const WHY_TYPE = "pipe header type is not data";
static const char *const WHY_SIZE = "pipe data_size beyond the packet";

enum bad_kind { BAD_TYPE0, BAD_TYPE2, BAD_TYPE3, BAD_SIZE, BAD_SIZE_MAX, BAD_SHORT, BAD_COMP };

static void put_bad(struct pbuf *b, enum bad_kind k)
{
	static const uint8_t junk[16] = "abcdefghijklmno";
	struct iovec none = {(void *)junk, 0};

	switch (k) {
	case BAD_TYPE0:
		put_raw_pipe(b, 0, 4, junk, 4);
		break;
	case BAD_TYPE2:
		put_raw_pipe(b, PIPE_TYPE_PARTIAL, 4, junk, 4);
		break;
	case BAD_TYPE3:
		put_raw_pipe(b, 3, 4, junk, 4);
		break;
	case BAD_SIZE:
		put_raw_pipe(b, PIPE_TYPE_DATA, 17, junk, 16); /* 16 bytes in the packet */
		break;
	case BAD_SIZE_MAX:
		put_raw_pipe(b, PIPE_TYPE_DATA, 0xffffffffu, junk, 16);
		break;
	case BAD_SHORT:
		assert_int_equal(vmbus_ring_write(&b->ring.w, &none, 1, 0), 0);
		break;
	case BAD_COMP: {
		/* A well-formed pipe payload in a completion packet. */
		uint32_t at = b->ring.w.wr;
		put_raw_pipe(b, PIPE_TYPE_DATA, 4, junk, 4);
		uint16_t type = VMBUS_PKT_COMP;
		raw_put(&b->ring, at, &type, sizeof(type));
		break;
	}
	}
}

static const char *bad_why(enum bad_kind k)
{
	switch (k) {
	case BAD_TYPE0:
	case BAD_TYPE2:
	case BAD_TYPE3:
		return WHY_TYPE;
	case BAD_SIZE:
	case BAD_SIZE_MAX:
		return WHY_SIZE;
	case BAD_SHORT:
		return WHY_SHORT;
	case BAD_COMP:
		return WHY_NOT_INBAND;
	}
	return NULL;
}

static void test_corrupt_pipe_headers(void **state)
{
	struct pbuf b;
	uint8_t src[16], dst[64];
	struct iovec iov[8];
	int niov;

	(void)state;
	sfill(src, 0, sizeof(src));
	pbuf_new(&b, 512);
	for (int k = BAD_TYPE0; k <= BAD_COMP; k++) {
		for (uint32_t start = 0; start < 512; start += 168) {
			/* At the head. */
			pbuf_reset(&b, start);
			put_bad(&b, (enum bad_kind)k);
			pipe_tx_commit(&b.tx);
			assert_int_equal(pipe_rx_peekv(&b.rx, iov, 8, &niov, 100), -EBADMSG);
			assert_int_equal(niov, 0);
			assert_non_null(b.rx.error);
			assert_string_equal(b.rx.error, bad_why((enum bad_kind)k));
			/* Sticky. */
			assert_int_equal(pipe_rx_read(&b.rx, dst, 64), -EBADMSG);
			assert_string_equal(b.rx.error, bad_why((enum bad_kind)k));

			/* After good data: the data reads, then the error. */
			pbuf_reset(&b, start);
			assert_int_equal(pipe_tx_write(&b.tx, src, 16), 16);
			put_bad(&b, (enum bad_kind)k);
			pipe_tx_commit(&b.tx);
			for (int i = 0; i < 16; i++) {
				assert_int_equal(pipe_rx_read(&b.rx, dst + i, 1), 1);
				assert_null(b.rx.error);
			}
			scheck(dst, 0, 16);
			assert_int_equal(pipe_rx_read(&b.rx, dst, 64), -EBADMSG);
			assert_string_equal(b.rx.error, bad_why((enum bad_kind)k));
		}
	}
	pbuf_free(&b);
}

/* Ring-level corruption reaches the pipe reader with the ring's reason. */
static void test_corrupt_ring_under_pipe(void **state)
{
	struct pbuf b;
	struct iovec iov[8];
	uint8_t src[40];
	int niov;

	(void)state;
	sfill(src, 0, sizeof(src));
	pbuf_new(&b, 512);

	pbuf_reset(&b, 0);
	b.ring.ctl->write_index = 12;
	assert_int_equal(pipe_rx_peekv(&b.rx, iov, 8, &niov, 100), -EBADMSG);
	assert_string_equal(b.rx.error, "write_index out of range or unaligned");

	pbuf_reset(&b, 0);
	assert_int_equal(pipe_tx_write(&b.tx, src, 40), 40);
	pipe_tx_commit(&b.tx);
	uint16_t len8 = 200; /* beyond what was written */
	raw_put(&b.ring, 4, &len8, sizeof(len8));
	assert_int_equal(pipe_rx_peekv(&b.rx, iov, 8, &niov, 100), -EBADMSG);
	assert_string_equal(b.rx.error, "descriptor len8 beyond the readable bytes");

	/* The host rewrote a packet the reader is half-way through. */
	pbuf_reset(&b, 0);
	assert_int_equal(pipe_tx_write(&b.tx, src, 40), 40);
	pipe_tx_commit(&b.tx);
	assert_int_equal(pipe_rx_read(&b.rx, src, 30), 30);
	uint32_t smaller = 20;
	raw_put(&b.ring, 16 + 4, &smaller, sizeof(smaller));
	assert_int_equal(pipe_rx_peekv(&b.rx, iov, 8, &niov, 100), -EBADMSG);
	assert_string_equal(b.rx.error, "pipe packet changed under the reader");
	pbuf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_corrupt_pipe_headers),
	    cmocka_unit_test(test_corrupt_ring_under_pipe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
