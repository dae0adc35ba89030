/* VMBus ring buffers (src/vmbus/ring.c), protocol.md §4: what the other side
 * writes is untrusted. Corrupt descriptors and indices are refused with the
 * reason, unusual legal descriptors pass, and random garbage never makes a
 * read leave the data area (the guard page after it would fault). The ring
 * in memory is ring_fixture.h's. */
#include "ring_fixture.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

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
			b.ctl->write_index = (at + c->written) % 256;
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
		b.ctl->write_index = (starts[s] + 64) % 256;
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
	b.ctl->write_index = 16 + 5 * 8 + 8;
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
		b.ctl->write_index = bad[i];
		assert_int_equal(vmbus_ring_readable(&b.r, &why), -EBADMSG);
		assert_string_equal(why, WHY_WIDX);
		assert_non_null(b.r.broken);
		assert_string_equal(b.r.broken, WHY_WIDX);
		/* The previous snapshot stays what peek works against: still empty. */
		assert_int_equal(vmbus_ring_peek(&b.r, b.r.rd, &pkt, &why), -EAGAIN);
		/* read_commit with a corrupt write index never signals. */
		b.r.rd = 24;
		vmbus_ring_writer_init(&b.w);
		b.ctl->pending_send_sz = 8;
		assert_false(vmbus_ring_read_commit(&b.r));

		/* The reader's index, as the writer loads it. */
		rbuf_reset(&b, 16, false);
		b.ctl->read_index = bad[i];
		assert_int_equal(vmbus_ring_writable(&b.w), 0);
		assert_non_null(b.w.broken);
		assert_string_equal(b.w.broken, WHY_RIDX);
		assert_int_equal(vmbus_ring_max_payload(&b.w), 0);
		assert_int_equal(put_packet(&b.w, 8, 1, 1, false), -EAGAIN);
		assert_int_equal(b.w.wr, 16);
		for (uint32_t k = 0; k < 256; k++)
			assert_int_equal(b.data[k], FILL);

		/* Attaching to a ring with a bad index fails. */
		rbuf_reset(&b, 0, false);
		b.ctl->write_index = bad[i];
		assert_int_equal(vmbus_ring_attach(&tmp, ctl_page(&b, 1), CTL_PAGE, 256), -EBADMSG);
		b.ctl->write_index = 0;
		b.ctl->read_index = bad[i];
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
				v = (v & 0xffff0000ffffffffull) |
				    ((uint64_t)((v >> 40) & 31) << 32);
			memcpy(b.data + k, &v, 8);
		}
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		b.ctl->read_index = (uint32_t)(x & 0xf8);
		b.ctl->write_index = (uint32_t)((x >> 8) & 0xf8);
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
	    cmocka_unit_test(test_corrupt_descriptors),
	    cmocka_unit_test(test_legal_unusual_descriptors),
	    cmocka_unit_test(test_corrupt_indices),
	    cmocka_unit_test(test_random_garbage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
