/* The pipe over a test ring shared by the pipe tests: pipe_fixture.h. */
#include "pipe_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <cmocka.h>

void pbuf_new(struct pbuf *b, uint32_t size)
{
	memset(b, 0, sizeof(*b));
	rbuf_new(&b->ring, size);
}

void pbuf_free(struct pbuf *b)
{
	rbuf_free(&b->ring);
}

void pbuf_reset(struct pbuf *b, uint32_t start)
{
	rbuf_reset(&b->ring, start, true);
	pipe_tx_init(&b->tx, &b->ring.w);
	pipe_rx_init(&b->rx, &b->ring.r);
}

uint8_t sbyte(uint64_t i)
{
	uint64_t x = (i >> 3) * 0x9e3779b97f4a7c15ull + 0x1234567;
	x ^= x >> 29;
	return (uint8_t)(x >> (8 * (i & 7)));
}

void sfill(uint8_t *dst, uint64_t pos, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = sbyte(pos + i);
}

void scheck(const uint8_t *src, uint64_t pos, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (src[i] != sbyte(pos + i))
			fail_msg("stream byte %llu: got %02x, want %02x",
			         (unsigned long long)(pos + i), src[i], sbyte(pos + i));
}

uint64_t rng(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

uint32_t raw_walk(const struct pbuf *b, uint32_t from, uint32_t to, struct raw_pkt *out,
                  uint32_t max)
{
	uint32_t n = 0;

	while (from != to) {
		uint16_t d[4];
		uint32_t h[2];
		assert_true(n < max);
		raw_get(&b->ring, from, d, sizeof(d));
		out[n].type = d[0];
		out[n].offset8 = d[1];
		out[n].len8 = d[2];
		raw_get(&b->ring, from + d[1] * 8u, h, sizeof(h));
		out[n].ptype = h[0];
		out[n].data_size = h[1];
		out[n].data = (from + d[1] * 8u + 8) % b->ring.size;
		out[n].next = (from + d[2] * 8u + 8) % b->ring.size;
		uint64_t trailer;
		raw_get(&b->ring, from + d[2] * 8u, &trailer, sizeof(trailer));
		assert_true(trailer == (uint64_t)from << 32);
		from = out[n].next;
		n++;
	}
	return n;
}

size_t drain(struct pbuf *b, uint8_t *dst, size_t cap)
{
	size_t got = 0;
	ssize_t n;

	while ((n = pipe_rx_read(&b->rx, dst + got, cap - got)) > 0)
		got += (size_t)n;
	assert_int_equal(n, 0);
	vmbus_ring_read_commit(&b->ring.r);
	return got;
}

void put_raw_pipe(struct pbuf *b, uint32_t ptype, uint32_t data_size, const void *bytes, uint32_t n)
{
	uint32_t hdr[2] = {ptype, data_size};
	struct iovec iov[2] = {{hdr, sizeof(hdr)}, {(void *)bytes, n}};

	assert_int_equal(vmbus_ring_write(&b->ring.w, iov, 2, 0), 0);
}
