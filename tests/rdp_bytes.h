/* Bytes for the RDP parser tests (test_x224_*.c, test_mcs_*.c): a buffer
 * that PDUs are assembled in field by field, the length encodings they use
 * (BER, T.125; ALIGNED PER, T.124), and exact-size heap copies so that ASan
 * reports any read past a parser's length. */
#ifndef MD9_TESTS_RDP_BYTES_H
#define MD9_TESTS_RDP_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bytes.h" /* rd32le, wr32le: the project's own */

struct buf {
	uint8_t d[8192];
	size_t n;
};

/* Append; the test fails if the buffer would overflow. */
void put(struct buf *b, const void *p, size_t n);
void put8(struct buf *b, unsigned v);
void put16le(struct buf *b, unsigned v);
void put32le(struct buf *b, uint32_t v);
/* UTF-16LE string in a fixed field of `bytes` bytes, zero padded. */
void put_utf16(struct buf *b, const char *s, size_t bytes);

/* ALIGNED PER unconstrained length determinant (X.691 §10.9.3.6-7): one
 * octet below 128, else two (10xxxxxx xxxxxxxx); two_octets uses the
 * two-octet form below 128 too, as rdesktop does. n < 16384. */
void put_per_len(struct buf *b, size_t n, bool two_octets);
/* BER definite length (X.690 §8.1.3): octets 0 is the shortest form,
 * 1..4 always the long form with at least that many length octets. */
void put_ber_len(struct buf *b, size_t n, unsigned octets);
/* tag, put_ber_len(content), content. */
void put_ber_tlv(struct buf *b, const uint8_t *tag, size_t tag_len, const struct buf *content,
                 unsigned octets);

/* A malloc'ed copy of exactly n bytes (free it). */
uint8_t *dup_exact(const uint8_t *p, size_t n);

#endif
