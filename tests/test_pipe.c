/* VMBus pipe framing (src/vmbus/pipe.c), protocol.md §5: every in-band packet's
 * payload is { u32 type = 1; u32 data_size } and data; at most 16384 data
 * bytes per packet; the pipe is a byte stream.
 *
 * The ring's data area ends right before a PROT_NONE page, so reading past it
 * faults. The writer's and the reader's views are two vmbus_rings on the same
 * memory, as md9 and md9-hostsim see a channel. */
#include "pipe.h"

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

struct pbuf {
	uint8_t *map;
	size_t map_len;
	uint32_t size;
	uint8_t *page; /* control page */
	struct vmbus_ring_ctl *ctl;
	uint8_t *data;
	struct vmbus_ring w, r; /* writer's and reader's views */
	struct pipe_tx tx;
	struct pipe_rx rx;
};

static void pbuf_new(struct pbuf *b, uint32_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t span = ((size_t)CTL_PAGE + size + page - 1) / page * page;

	memset(b, 0, sizeof(*b));
	b->size = size;
	b->map_len = span + page;
	b->map = mmap(NULL, b->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_ptr_not_equal(b->map, MAP_FAILED);
	assert_int_equal(mprotect(b->map + span, page, PROT_NONE), 0);
	b->data = b->map + span - size;
	b->page = b->data - CTL_PAGE;
	b->ctl = (struct vmbus_ring_ctl *)b->page;
}

static void pbuf_free(struct pbuf *b)
{
	munmap(b->map, b->map_len);
}

/* Empty ring with both indices at start; views attached, pipes initialised. */
static void pbuf_reset(struct pbuf *b, uint32_t start)
{
	memset(b->page, 0, CTL_PAGE);
	memset(b->data, 0xcc, b->size);
	b->ctl->write_index = b->ctl->read_index = start;
	assert_int_equal(vmbus_ring_attach(&b->w, b->page, CTL_PAGE, b->size), 0);
	assert_int_equal(vmbus_ring_attach(&b->r, b->page, CTL_PAGE, b->size), 0);
	vmbus_ring_writer_init(&b->w);
	pipe_tx_init(&b->tx, &b->w);
	pipe_rx_init(&b->rx, &b->r);
}

static void raw_get(const struct pbuf *b, uint32_t off, void *dst, size_t n)
{
	for (size_t i = 0; i < n; i++)
		((uint8_t *)dst)[i] = b->data[(off + i) % b->size];
}

static void raw_put(const struct pbuf *b, uint32_t off, const void *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		b->data[(off + i) % b->size] = ((const uint8_t *)src)[i];
}

static uint32_t pad8(uint32_t n)
{
	return (n + 7u) & ~7u;
}

/* Stream content: byte i of a test stream. */
static uint8_t sbyte(uint64_t i)
{
	uint64_t x = (i >> 3) * 0x9e3779b97f4a7c15ull + 0x1234567;
	x ^= x >> 29;
	return (uint8_t)(x >> (8 * (i & 7)));
}

static void sfill(uint8_t *dst, uint64_t pos, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = sbyte(pos + i);
}

static void scheck(const uint8_t *src, uint64_t pos, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (src[i] != sbyte(pos + i))
			fail_msg("stream byte %llu: got %02x, want %02x",
				 (unsigned long long)(pos + i), src[i], sbyte(pos + i));
}

static uint64_t rng(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* A raw packet as the test parses it (its own code, not ring.c's). */
struct raw_pkt {
	uint16_t type, offset8, len8;
	uint32_t ptype, data_size;
	uint32_t data; /* ring offset of the data */
	uint32_t next;
};

static uint32_t raw_walk(const struct pbuf *b, uint32_t from, uint32_t to, struct raw_pkt *out,
			 uint32_t max)
{
	uint32_t n = 0;

	while (from != to) {
		uint16_t d[4];
		uint32_t h[2];
		assert_true(n < max);
		raw_get(b, from, d, sizeof(d));
		out[n].type = d[0];
		out[n].offset8 = d[1];
		out[n].len8 = d[2];
		raw_get(b, from + d[1] * 8u, h, sizeof(h));
		out[n].ptype = h[0];
		out[n].data_size = h[1];
		out[n].data = (from + d[1] * 8u + 8) % b->size;
		out[n].next = (from + d[2] * 8u + 8) % b->size;
		uint64_t trailer;
		raw_get(b, from + d[2] * 8u, &trailer, sizeof(trailer));
		assert_true(trailer == (uint64_t)from << 32);
		from = out[n].next;
		n++;
	}
	return n;
}

/* Copy everything readable into dst (at most cap bytes), commit. */
static size_t drain(struct pbuf *b, uint8_t *dst, size_t cap)
{
	size_t got = 0;
	ssize_t n;

	while ((n = pipe_rx_read(&b->rx, dst + got, cap - got)) > 0)
		got += (size_t)n;
	assert_int_equal(n, 0);
	vmbus_ring_read_commit(&b->r);
	return got;
}

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
	const uint32_t starts[] = {0, b.size - 40, b.size - 16392, b.size - 8};
	for (size_t s = 0; s < sizeof(starts) / sizeof(starts[0]); s++) {
		for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			size_t n = lens[i];
			pbuf_reset(&b, starts[s]);
			assert_int_equal(pipe_tx_write(&b.tx, src, n), n);
			assert_true(pipe_tx_commit(&b.tx));
			uint32_t np = raw_walk(&b, starts[s], b.ctl->write_index, pk, 16);
			assert_int_equal(np, (n + 16383) / 16384);
			size_t off = 0;
			for (uint32_t k = 0; k < np; k++) {
				uint32_t want = n - off > 16384 ? 16384 : (uint32_t)(n - off);
				assert_int_equal(pk[k].type, VMBUS_PKT_DATA_INBAND);
				assert_int_equal(pk[k].offset8, 2);
				assert_int_equal(pk[k].ptype, PIPE_TYPE_DATA);
				assert_int_equal(pk[k].data_size, want);
				assert_int_equal(pk[k].len8, (16 + pad8(8 + want)) / 8);
				raw_get(&b, pk[k].data, dst, want);
				scheck(dst, off, want);
				off += want;
			}
			assert_int_equal(off, n);
			memset(dst, 0, n);
			assert_int_equal(drain(&b, dst, sizeof(dst)), n);
			scheck(dst, 0, n);
			assert_int_equal(b.ctl->read_index, b.ctl->write_index);
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
	assert_int_equal(raw_walk(&b, 0, b.ctl->write_index, pk, 16), 1);
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
	assert_true(vmbus_ring_max_payload(&b.w) <= PIPE_HDR_LEN);
	assert_int_equal(pipe_tx_reserve(&b.tx, 1, iov, &niov), 0);
	pipe_tx_commit(&b.tx);
	uint32_t np = raw_walk(&b, 4000, b.ctl->write_index, pk, 64);
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
			assert_ptr_equal(iov[k].iov_base, b.data + 48 * k + 24);
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
	assert_int_equal(b.r.rd, 96); /* two packets released locally */
	assert_int_equal(b.ctl->read_index, 0); /* not published yet */
	assert_false(pipe_rx_commit(&b.rx));
	assert_int_equal(b.ctl->read_index, 96);
	n = pipe_rx_peekv(&b.rx, iov, 64, &niov, 1000);
	assert_int_equal(n, 75);
	assert_ptr_equal(iov[0].iov_base, b.data + 96 + 24 + 5);
	assert_int_equal(iov[0].iov_len, 5);
	scheck(iov[0].iov_base, 25, 5);
	/* Consume all but the last byte: its packet stays. */
	pipe_rx_consume(&b.rx, 74);
	assert_int_equal(b.r.rd, 9 * 48);
	assert_int_equal(b.rx.consumed, 9);
	uint8_t last;
	assert_int_equal(pipe_rx_read(&b.rx, &last, 1), 1);
	assert_int_equal(last, sbyte(99));
	assert_int_equal(b.r.rd, 480);
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
	assert_int_equal(b.ctl->read_index, 256); /* packet not released */
	assert_int_equal(pipe_tx_write(&b.tx, src + 100, 200), 200);
	pipe_tx_commit(&b.tx);
	assert_int_equal(pipe_rx_peekv(&b.rx, iov, 8, &niov, 1000), 269);
	assert_int_equal(iov[0].iov_len, 69);
	assert_int_equal(pipe_rx_read(&b.rx, dst + 31, 269), 269);
	scheck(dst, 0, 300);
	pipe_rx_commit(&b.rx);
	assert_int_equal(b.ctl->read_index, b.ctl->write_index);
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
					size_t m = iov[i].iov_len < n - off ? iov[i].iov_len : n - off;
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
					assert_true((uint8_t *)iov[i].iov_base >= b.data &&
						    (uint8_t *)iov[i].iov_base + iov[i].iov_len <=
							    b.data + b.size);
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
	assert_int_equal(b.ctl->read_index, b.ctl->write_index);
	pbuf_free(&b);
}

/* ---- zero-length pipe packets ---- */

static void put_raw_pipe(struct pbuf *b, uint32_t ptype, uint32_t data_size, const void *bytes,
			 uint32_t n)
{
	uint32_t hdr[2] = {ptype, data_size};
	struct iovec iov[2] = {{hdr, sizeof(hdr)}, {(void *)bytes, n}};

	assert_int_equal(vmbus_ring_write(&b->w, iov, 2, 0), 0);
}

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
		eof_at = b.w.wr;
		put_raw_pipe(&b, PIPE_TYPE_DATA, 0, src, 0);
		after_eof = b.w.wr;
		put_raw_pipe(&b, PIPE_TYPE_DATA, 8, src, 8);
		pipe_tx_commit(&b.tx);
		assert_int_equal(pipe_rx_read(&b.rx, dst, 5), 5);
		/* peekv stops at the end of stream: 25 bytes, not 33. */
		assert_int_equal(pipe_rx_peekv(&b.rx, iov, 8, &niov, 100), 25);
		assert_false(b.rx.eof);
		assert_int_equal(pipe_rx_read(&b.rx, dst + 5, 100), 25);
		scheck(dst, 0, 30);
		assert_false(b.rx.eof); /* not consumed together with data */
		assert_int_equal(b.r.rd, eof_at);
		assert_int_equal(pipe_rx_read(&b.rx, dst, 100), 0);
		assert_true(b.rx.eof);
		assert_int_equal(b.r.rd, after_eof); /* consumed, once */
		assert_int_equal(pipe_rx_read(&b.rx, dst, 100), 0);
		assert_int_equal(pipe_rx_peekv(&b.rx, iov, 8, &niov, 100), 0);
		assert_int_equal(niov, 0);
		assert_int_equal(b.r.rd, after_eof);
		assert_null(b.rx.error);
		pipe_rx_commit(&b.rx);
		assert_int_equal(b.ctl->read_index, after_eof);

		/* End of stream first: eof at once; message reads see it too. */
		pbuf_reset(&b, start);
		put_raw_pipe(&b, PIPE_TYPE_DATA, 0, src, 0);
		pipe_tx_commit(&b.tx);
		assert_int_equal(pipe_rx_packet(&b.rx, dst, sizeof(dst)), 0);
		assert_true(b.rx.eof);
		assert_int_equal(b.r.rd, b.ctl->write_index);

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
		assert_int_equal(b.r.rd, b.ctl->write_index);

		/* No room: refused, nothing written; room again: written. */
		pbuf_reset(&b, start);
		while (pipe_tx_write(&b.tx, src, 1) == 1)
			;
		{
			uint32_t wr = b.w.wr;

			assert_false(pipe_tx_eof(&b.tx));
			assert_int_equal(b.w.wr, wr);
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
		assert_int_equal(vmbus_ring_write(&b->w, &none, 1, 0), 0);
		break;
	case BAD_COMP: {
		/* A well-formed pipe payload in a completion packet. */
		uint32_t at = b->w.wr;
		put_raw_pipe(b, PIPE_TYPE_DATA, 4, junk, 4);
		uint16_t type = VMBUS_PKT_COMP;
		raw_put(b, at, &type, sizeof(type));
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
	b.ctl->write_index = 12;
	assert_int_equal(pipe_rx_peekv(&b.rx, iov, 8, &niov, 100), -EBADMSG);
	assert_string_equal(b.rx.error, "write_index out of range or unaligned");

	pbuf_reset(&b, 0);
	assert_int_equal(pipe_tx_write(&b.tx, src, 40), 40);
	pipe_tx_commit(&b.tx);
	uint16_t len8 = 200; /* beyond what was written */
	raw_put(&b, 4, &len8, sizeof(len8));
	assert_int_equal(pipe_rx_peekv(&b.rx, iov, 8, &niov, 100), -EBADMSG);
	assert_string_equal(b.rx.error, "descriptor len8 beyond the readable bytes");

	/* The host rewrote a packet the reader is half-way through. */
	pbuf_reset(&b, 0);
	assert_int_equal(pipe_tx_write(&b.tx, src, 40), 40);
	pipe_tx_commit(&b.tx);
	assert_int_equal(pipe_rx_read(&b.rx, src, 30), 30);
	uint32_t smaller = 20;
	raw_put(&b, 16 + 4, &smaller, sizeof(smaller));
	assert_int_equal(pipe_rx_peekv(&b.rx, iov, 8, &niov, 100), -EBADMSG);
	assert_string_equal(b.rx.error, "pipe packet changed under the reader");
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
	assert_ptr_equal(iov[0].iov_base, b.data + 24);
	assert_int_equal(iov[0].iov_len, 1000);
	sfill(iov[0].iov_base, 0, 300);
	pipe_tx_put(&b.tx, 300);
	assert_int_equal(b.w.wr, vmbus_pkt_total(308));
	assert_true(pipe_tx_commit(&b.tx));
	assert_int_equal(raw_walk(&b, 0, b.ctl->write_index, pk, 4), 1);
	assert_int_equal(pk[0].data_size, 300);
	assert_int_equal(pk[0].len8, (16 + 312) / 8);
	assert_int_equal(drain(&b, dst, sizeof(dst)), 300);
	scheck(dst, 0, 300);

	/* put(0) and put(n > capacity) drop the reservation; put without one does nothing. */
	uint32_t wr = b.w.wr;
	assert_int_equal(pipe_tx_reserve(&b.tx, 100, iov, &niov), 100);
	pipe_tx_put(&b.tx, 0);
	assert_int_equal(b.w.wr, wr);
	assert_int_equal(pipe_tx_reserve(&b.tx, 100, iov, &niov), 100);
	pipe_tx_put(&b.tx, 101);
	assert_int_equal(b.w.wr, wr);
	pipe_tx_put(&b.tx, 50);
	assert_int_equal(b.w.wr, wr);
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
	assert_int_equal(vmbus_ring_writable(&b.w), 4096 - 7 * 488);
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
		assert_ptr_equal(iov[0].iov_base, b.data + w[i].first_off);
		assert_int_equal(iov[0].iov_len, w[i].first_len);
		if (niov == 2) {
			assert_ptr_equal(iov[1].iov_base, b.data);
			assert_int_equal(iov[1].iov_len, 100 - w[i].first_len);
		}
		size_t off = 0;
		for (int k = 0; k < niov; k++) {
			sfill(iov[k].iov_base, off, iov[k].iov_len);
			off += iov[k].iov_len;
		}
		pipe_tx_put(&b.tx, 100);
		pipe_tx_commit(&b.tx);
		assert_int_equal(raw_walk(&b, w[i].start, b.ctl->write_index, pk, 4), 1);
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
	assert_int_equal(vmbus_ring_writable(&b.w), 4096 - 9 * 432);
	/* 208 free: a packet of at most 200 bytes, 168 of them data; 300 wanted. */
	assert_int_equal(pipe_tx_reserve(&b.tx, 300, iov, &niov), 4096 - 9 * 432 - 40);
	pipe_tx_put(&b.tx, 0);
	assert_false(pipe_tx_wait(&b.tx, 300));
	assert_int_equal(b.ctl->pending_send_sz, vmbus_pkt_total(PIPE_HDR_LEN + 300));
	/* The reader frees one packet (640 free: > 336): signal. */
	assert_int_equal(pipe_rx_read(&b.rx, dst, 400), 400);
	assert_true(pipe_rx_commit(&b.rx));
	assert_int_equal(pipe_rx_read(&b.rx, dst + 400, 400), 400);
	assert_false(pipe_rx_commit(&b.rx)); /* already above */
	vmbus_ring_write_unwait(&b.w);
	assert_true(pipe_tx_reserve(&b.tx, 300, iov, &niov) >= 300);
	pipe_tx_put(&b.tx, 0);

	/* Signalled at the first commit that makes min_data fit, not before. */
	pbuf_reset(&b, 0);
	for (int i = 0; i < 9; i++)
		assert_int_equal(pipe_tx_write(&b.tx, src, 400), 400);
	pipe_tx_commit(&b.tx);
	const uint32_t need = vmbus_pkt_total(PIPE_HDR_LEN + 1000); /* 1032 */
	assert_false(pipe_tx_wait(&b.tx, 1000));
	assert_int_equal(b.ctl->pending_send_sz, need);
	bool signalled = false;
	for (int i = 0; i < 9 && !signalled; i++) {
		uint32_t before = vmbus_ring_writable(&b.w);
		assert_int_equal(pipe_rx_read(&b.rx, dst, 400), 400);
		signalled = pipe_rx_commit(&b.rx);
		uint32_t after = vmbus_ring_writable(&b.w);
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
	assert_int_equal(b.ctl->pending_send_sz, 0);
	static uint8_t big[60000];
	assert_int_equal(pipe_tx_write(&b.tx, big, sizeof(big)), sizeof(big));
	assert_false(pipe_tx_wait(&b.tx, 100000));
	assert_int_equal(b.ctl->pending_send_sz, vmbus_pkt_total(PIPE_HDR_LEN + PIPE_MAX_DATA));

	/* The race: room appeared before the request. */
	pbuf_reset(&b, 0);
	assert_true(pipe_tx_wait(&b.tx, 16384));
	assert_int_equal(b.ctl->pending_send_sz, 0);
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
	assert_true(b.ctl->pending_send_sz < b.size);
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
	vmbus_ring_write_unwait(&b.w);
	assert_true(pipe_tx_wait(&b.tx, PIPE_MAX_DATA)); /* empty ring: go ahead */
	assert_int_equal(pipe_tx_write(&b.tx, src, 8192), 4096 - 40);

	pbuf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_write_splits_16k),
	    cmocka_unit_test(test_write_short_when_full),
	    cmocka_unit_test(test_peekv_many_packets),
	    cmocka_unit_test(test_partial_then_more),
	    cmocka_unit_test(test_partial_reads_across_wraps),
	    cmocka_unit_test(test_end_of_stream),
	    cmocka_unit_test(test_corrupt_pipe_headers),
	    cmocka_unit_test(test_corrupt_ring_under_pipe),
	    cmocka_unit_test(test_reserve_put),
	    cmocka_unit_test(test_tx_wait),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
