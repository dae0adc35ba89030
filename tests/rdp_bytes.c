/* The RDP parser tests' bytes: rdp_bytes.h. */
#include "rdp_bytes.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

void put(struct buf *b, const void *p, size_t n)
{
	assert_true(b->n + n <= sizeof(b->d));
	memcpy(b->d + b->n, p, n);
	b->n += n;
}

void put8(struct buf *b, unsigned v)
{
	uint8_t x = (uint8_t)v;
	put(b, &x, 1);
}

void put16le(struct buf *b, unsigned v)
{
	put8(b, v & 0xff);
	put8(b, (v >> 8) & 0xff);
}

void put32le(struct buf *b, uint32_t v)
{
	put16le(b, v & 0xffff);
	put16le(b, v >> 16);
}

void put_utf16(struct buf *b, const char *s, size_t bytes)
{
	size_t i = 0;
	for (; s[i] && 2 * i + 2 <= bytes; i++)
		put16le(b, (unsigned char)s[i]);
	for (size_t k = 2 * i; k < bytes; k++)
		put8(b, 0);
}

void put_per_len(struct buf *b, size_t n, bool two_octets)
{
	assert_true(n < 16384);
	if (n < 128 && !two_octets) {
		put8(b, (unsigned)n);
	} else {
		put8(b, 0x80 | (unsigned)(n >> 8));
		put8(b, n & 0xff);
	}
}

void put_ber_len(struct buf *b, size_t n, unsigned octets)
{
	unsigned need = n < 256 ? 1 : n < 65536 ? 2 : 3;
	unsigned k = octets > need ? octets : need;
	if (!octets && n < 128) {
		put8(b, (unsigned)n);
		return;
	}
	put8(b, 0x80 | k);
	while (k--)
		put8(b, (n >> (8 * k)) & 0xff);
}

void put_ber_tlv(struct buf *b, const uint8_t *tag, size_t tag_len, const struct buf *content,
                 unsigned octets)
{
	put(b, tag, tag_len);
	put_ber_len(b, content->n, octets);
	put(b, content->d, content->n);
}

uint8_t *dup_exact(const uint8_t *p, size_t n)
{
	uint8_t *d = malloc(n ? n : 1);
	assert_non_null(d);
	if (n)
		memcpy(d, p, n);
	return d;
}
