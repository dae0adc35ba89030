/* VMBus pipe framing (src/vmbus/pipe.c), protocol.md §5: every in-band packet's
 * payload is { u32 type = 1; u32 data_size } and data; at most 16384 data
 * bytes per packet; the pipe is a byte stream.
 *
 * The reader's side: partial reads within and across packets and wraps, and
 * the end of stream (a data packet of data_size 0). The ring and pipes are
 * pipe_fixture.h's. */
#include "pipe_fixture.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* ---- partial reads ---- */

static void test_peekv_many_packets(void **state)
{
	struct pbuf b;
	struct iovec iov[64];
	uint8_t buf[10];
	int niov;
	ssize_t n;

	(void)state;
	pbuf_new(&b, 4096);
	pbuf_reset(&b, 0);
	for (int k = 0; k < 10; k++) {
		sfill(buf, (uint64_t)k * 10, 10);
		assert_int_equal(pipe_tx_write(&b.tx, buf, 10), 10);
	}
	pipe_tx_commit(&b.tx);
	/* Nothing released by peeking. */
	for (int rep = 0; rep < 2; rep++) {
		n = pipe_rx_peekv(&b.rx, iov, 64, &niov, 1000);
		assert_int_equal(n, 100);
		assert_int_equal(niov, 10);
		for (int k = 0; k < 10; k++) {
			/* Each packet is 16 + 8 + 16 + 8 = 48 bytes; data at +24. */
			assert_ptr_equal(iov[k].iov_base, b.ring.data + 48 * k + 24);
			assert_int_equal(iov[k].iov_len, 10);
			scheck(iov[k].iov_base, (uint64_t)k * 10, 10);
		}
	}
	/* maxiov bounds the walk: a packet needs room for two iovecs. */
	n = pipe_rx_peekv(&b.rx, iov, 5, &niov, 1000);
	assert_int_equal(n, 40);
	assert_int_equal(niov, 4);
	n = pipe_rx_peekv(&b.rx, iov, 2, &niov, 1000);
	assert_int_equal(n, 10);
	assert_int_equal(niov, 1);
	/* max bounds it in the middle of a packet. */
	n = pipe_rx_peekv(&b.rx, iov, 64, &niov, 25);
	assert_int_equal(n, 25);
	assert_int_equal(niov, 3);
	assert_int_equal(iov[2].iov_len, 5);
	pipe_rx_consume(&b.rx, 25);
	assert_int_equal(b.rx.consumed, 5);
	assert_int_equal(b.ring.r.rd, 96);           /* two packets released locally */
	assert_int_equal(b.ring.ctl->read_index, 0); /* not published yet */
	assert_false(pipe_rx_commit(&b.rx));
	assert_int_equal(b.ring.ctl->read_index, 96);
	n = pipe_rx_peekv(&b.rx, iov, 64, &niov, 1000);
	assert_int_equal(n, 75);
	assert_ptr_equal(iov[0].iov_base, b.ring.data + 96 + 24 + 5);
	assert_int_equal(iov[0].iov_len, 5);
	scheck(iov[0].iov_base, 25, 5);
	/* Consume all but the last byte: its packet stays. */
	pipe_rx_consume(&b.rx, 74);
	assert_int_equal(b.ring.r.rd, 9 * 48);
	assert_int_equal(b.rx.consumed, 9);
	uint8_t last;
	assert_int_equal(pipe_rx_read(&b.rx, &last, 1), 1);
	assert_int_equal(last, sbyte(99));
	assert_int_equal(b.ring.r.rd, 480);
	assert_int_equal(b.rx.consumed, 0);
	assert_int_equal(pipe_rx_read(&b.rx, &last, 1), 0);
	pbuf_free(&b);
}

/* Consume part of a packet, the writer adds more, read the rest and the new. */
static void test_partial_then_more(void **state)
{
	struct pbuf b;
	uint8_t src[300], dst[300];
	struct iovec iov[8];
	int niov;

	(void)state;
	sfill(src, 0, sizeof(src));
	pbuf_new(&b, 512);
	pbuf_reset(&b, 256);
	assert_int_equal(pipe_tx_write(&b.tx, src, 100), 100);
	pipe_tx_commit(&b.tx);
	assert_int_equal(pipe_rx_read(&b.rx, dst, 30), 30);
	assert_int_equal(pipe_rx_read(&b.rx, dst + 30, 1), 1);
	pipe_rx_commit(&b.rx);
	assert_int_equal(b.ring.ctl->read_index, 256); /* packet not released */
	assert_int_equal(pipe_tx_write(&b.tx, src + 100, 200), 200);
	pipe_tx_commit(&b.tx);
	assert_int_equal(pipe_rx_peekv(&b.rx, iov, 8, &niov, 1000), 269);
	assert_int_equal(iov[0].iov_len, 69);
	assert_int_equal(pipe_rx_read(&b.rx, dst + 31, 269), 269);
	scheck(dst, 0, 300);
	pipe_rx_commit(&b.rx);
	assert_int_equal(b.ring.ctl->read_index, b.ring.ctl->write_index);
	pbuf_free(&b);
}

/* Random writes and random reads through a 512-byte ring: every wrap class,
 * packets split by the wrap, reads ending anywhere. */
static void test_partial_reads_across_wraps(void **state)
{
	static uint8_t buf[20000];
	const uint64_t total = 1u << 20;
	uint64_t wpos = 0, rpos = 0, s = 42;
	struct pbuf b;
	int wraps_split = 0;

	(void)state;
	pbuf_new(&b, 512);
	pbuf_reset(&b, 0);
	while (rpos < total) {
		/* Writer: a few random writes, copying or zero-copy. */
		for (int k = (int)(rng(&s) % 4); k >= 0 && wpos < total; k--) {
			size_t want = 1 + rng(&s) % 600;
			if (want > total - wpos)
				want = total - wpos;
			if (rng(&s) & 1) {
				sfill(buf, wpos, want);
				wpos += pipe_tx_write(&b.tx, buf, want);
			} else {
				struct iovec iov[2];
				int niov;
				size_t cap = pipe_tx_reserve(&b.tx, want, iov, &niov), off = 0;
				if (cap == 0)
					break;
				size_t n = 1 + rng(&s) % cap; /* put fewer than reserved */
				for (int i = 0; i < niov && off < n; i++) {
					size_t m =
					    iov[i].iov_len < n - off ? iov[i].iov_len : n - off;
					sfill(iov[i].iov_base, wpos + off, m);
					off += m;
				}
				if (niov == 2)
					wraps_split++;
				pipe_tx_put(&b.tx, n);
				wpos += n;
			}
		}
		pipe_tx_commit(&b.tx);
		/* Reader: random sizes, copying or peekv + partial consume. */
		for (int k = (int)(rng(&s) % 4); k >= 0; k--) {
			size_t want = 1 + rng(&s) % 700;
			if (rng(&s) & 1) {
				ssize_t n = pipe_rx_read(&b.rx, buf, want);
				assert_true(n >= 0);
				scheck(buf, rpos, (size_t)n);
				rpos += (uint64_t)n;
			} else {
				struct iovec iov[16];
				int niov;
				ssize_t n = pipe_rx_peekv(&b.rx, iov, 16, &niov, want);
				assert_true(n >= 0 && (size_t)n <= want);
				size_t seen = 0;
				for (int i = 0; i < niov; i++) {
					assert_true((uint8_t *)iov[i].iov_base >= b.ring.data &&
					            (uint8_t *)iov[i].iov_base + iov[i].iov_len <=
					                b.ring.data + b.ring.size);
					scheck(iov[i].iov_base, rpos + seen, iov[i].iov_len);
					seen += iov[i].iov_len;
				}
				assert_int_equal(seen, n);
				size_t c = n > 0 ? 1 + rng(&s) % (size_t)n : 0;
				pipe_rx_consume(&b.rx, c);
				rpos += c;
			}
			pipe_rx_commit(&b.rx);
		}
		assert_true(rpos <= wpos);
		assert_null(b.rx.error);
	}
	assert_int_equal(wpos, total);
	assert_true(wraps_split > 0);
	assert_int_equal(b.ring.ctl->read_index, b.ring.ctl->write_index);
	pbuf_free(&b);
}

/* ---- zero-length pipe packets ---- */
/* A data packet with data_size 0 is the end of stream (K9: OpenVMM pipe.rs,
 * Linux hv_sock): every byte before it is read first, then it is consumed
 * once, eof is set, and nothing after it is ever read. */
static void test_end_of_stream(void **state)
{
	struct pbuf b;
	struct iovec iov[8];
	uint8_t src[64], dst[64];
	int niov;

	(void)state;
	sfill(src, 0, sizeof(src));
	pbuf_new(&b, 512);
	for (uint32_t start = 0; start < 512; start += 136) {
		uint32_t eof_at, after_eof;

		/* Data, end of stream, then a packet the writer must not have
		 * sent: the data is read in pieces, then eof, never the rest. */
		pbuf_reset(&b, start);
		put_raw_pipe(&b, PIPE_TYPE_DATA, 10, src, 10);
		put_raw_pipe(&b, PIPE_TYPE_DATA, 20, src + 10, 20);
		eof_at = b.ring.w.wr;
		put_raw_pipe(&b, PIPE_TYPE_DATA, 0, src, 0);
		after_eof = b.ring.w.wr;
		put_raw_pipe(&b, PIPE_TYPE_DATA, 8, src, 8);
		pipe_tx_commit(&b.tx);
		assert_int_equal(pipe_rx_read(&b.rx, dst, 5), 5);
		/* peekv stops at the end of stream: 25 bytes, not 33. */
		assert_int_equal(pipe_rx_peekv(&b.rx, iov, 8, &niov, 100), 25);
		assert_false(b.rx.eof);
		assert_int_equal(pipe_rx_read(&b.rx, dst + 5, 100), 25);
		scheck(dst, 0, 30);
		assert_false(b.rx.eof); /* not consumed together with data */
		assert_int_equal(b.ring.r.rd, eof_at);
		assert_int_equal(pipe_rx_read(&b.rx, dst, 100), 0);
		assert_true(b.rx.eof);
		assert_int_equal(b.ring.r.rd, after_eof); /* consumed, once */
		assert_int_equal(pipe_rx_read(&b.rx, dst, 100), 0);
		assert_int_equal(pipe_rx_peekv(&b.rx, iov, 8, &niov, 100), 0);
		assert_int_equal(niov, 0);
		assert_int_equal(b.ring.r.rd, after_eof);
		assert_null(b.rx.error);
		pipe_rx_commit(&b.rx);
		assert_int_equal(b.ring.ctl->read_index, after_eof);

		/* End of stream first: eof at once; message reads see it too. */
		pbuf_reset(&b, start);
		put_raw_pipe(&b, PIPE_TYPE_DATA, 0, src, 0);
		pipe_tx_commit(&b.tx);
		assert_int_equal(pipe_rx_packet(&b.rx, dst, sizeof(dst)), 0);
		assert_true(b.rx.eof);
		assert_int_equal(b.ring.r.rd, b.ring.ctl->write_index);

		/* pipe_tx_eof writes exactly that packet: 8 bytes of header,
		 * type data, size 0. */
		pbuf_reset(&b, start);
		assert_int_equal(pipe_tx_write(&b.tx, src, 7), 7);
		assert_true(pipe_tx_eof(&b.tx));
		pipe_tx_commit(&b.tx);
		assert_int_equal(pipe_rx_read(&b.rx, dst, 100), 7);
		scheck(dst, 0, 7);
		assert_false(b.rx.eof);
		assert_int_equal(pipe_rx_read(&b.rx, dst, 100), 0);
		assert_true(b.rx.eof);
		assert_int_equal(b.ring.r.rd, b.ring.ctl->write_index);

		/* No room: refused, nothing written; room again: written. */
		pbuf_reset(&b, start);
		while (pipe_tx_write(&b.tx, src, 1) == 1)
			;
		{
			uint32_t wr = b.ring.w.wr;

			assert_false(pipe_tx_eof(&b.tx));
			assert_int_equal(b.ring.w.wr, wr);
		}
		pipe_tx_commit(&b.tx);
		while (pipe_rx_read(&b.rx, dst, 64) > 0)
			;
		pipe_rx_commit(&b.rx);
		assert_false(b.rx.eof);
		assert_true(pipe_tx_eof(&b.tx));
		pipe_tx_commit(&b.tx);
		assert_int_equal(pipe_rx_read(&b.rx, dst, 100), 0);
		assert_true(b.rx.eof);
	}
	pbuf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_peekv_many_packets),
	    cmocka_unit_test(test_partial_then_more),
	    cmocka_unit_test(test_partial_reads_across_wraps),
	    cmocka_unit_test(test_end_of_stream),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
