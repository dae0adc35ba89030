#include "per.h"

bool per_bits(struct per *r, unsigned n, unsigned *v)
{
	if (r->end_bit - r->bit < n)
		return false;
	unsigned x = 0;
	for (unsigned i = 0; i < n; i++, r->bit++)
		x = x << 1 | ((r->buf[r->bit / 8] >> (7 - r->bit % 8)) & 1u);
	*v = x;
	return true;
}

/* Cannot pass end_bit: end_bit is a multiple of 8 and bit <= end_bit. */
void per_align(struct per *r)
{
	r->bit = (r->bit + 7) & ~(size_t)7;
}

/* Unconstrained length determinant (X.691 §10.9.3.5-7), octet-aligned:
 * 0xxxxxxx, or 10xxxxxx xxxxxxxx; the fragmented form (11xxxxxx, >= 16K)
 * cannot occur inside one TPKT's worth of user data and is rejected. The
 * two-octet form is accepted for values below 128 (rdesktop writes it). */
bool per_length(struct per *r, size_t *n)
{
	unsigned a, b;
	per_align(r);
	if (!per_bits(r, 8, &a))
		return false;
	if (a < 0x80) {
		*n = a;
		return true;
	}
	if ((a & 0xC0) != 0x80 || !per_bits(r, 8, &b))
		return false;
	*n = (size_t)(a & 0x3F) << 8 | b;
	return true;
}

/* n octet-aligned octets; *off gets their byte offset in buf. */
bool per_octets(struct per *r, size_t n, size_t *off)
{
	per_align(r);
	if ((r->end_bit - r->bit) / 8 < n)
		return false;
	*off = r->bit / 8;
	r->bit += n * 8;
	return true;
}
