/* The subset of ALIGNED PER (X.691) that T.124 GCC ConferenceCreate PDUs use
 * in RDP (MS-RDPBCGR 2.2.1.3, 2.2.1.4): a bit cursor, octet alignment,
 * unconstrained length determinants and octet strings. */
#ifndef MD9_PER_H
#define MD9_PER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bit cursor over buf: bit positions bit..end_bit, MSB first. Invariants:
 * bit <= end_bit, end_bit is a multiple of 8, buf[0..end_bit/8) readable. */
struct per {
	const uint8_t *buf;
	size_t bit;
	size_t end_bit;
};

/* The next n bits (n <= 32), most significant first, into *v; false when
 * fewer than n remain. */
bool per_bits(struct per *r, unsigned n, unsigned *v);

/* Cannot pass end_bit: end_bit is a multiple of 8 and bit <= end_bit. */
void per_align(struct per *r);

/* Unconstrained length determinant (X.691 §10.9.3.5-7), octet-aligned:
 * 0xxxxxxx, or 10xxxxxx xxxxxxxx; the fragmented form (11xxxxxx, >= 16K)
 * cannot occur inside one TPKT's worth of user data and is rejected. The
 * two-octet form is accepted for values below 128 (rdesktop writes it). */
bool per_length(struct per *r, size_t *n);

/* n octet-aligned octets; *off gets their byte offset in buf. */
bool per_octets(struct per *r, size_t n, size_t *off);

#endif
