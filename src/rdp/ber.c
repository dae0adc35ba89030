#include "ber.h"

#include "parse.h"

#include <string.h>

int ber_length(struct ber *b, const struct ber_field *f, size_t *n, const char **why)
{
	if (b->off >= b->end)
		return parse_fail(why, f->bad_len);
	uint8_t first = b->buf[b->off++];
	size_t v = first;
	if (first & 0x80) {
		size_t k = first & 0x7F;
		if (k == 0 || k > 4 || b->end - b->off < k)
			return parse_fail(why, f->bad_len);
		v = 0;
		while (k--)
			v = v << 8 | b->buf[b->off++];
	}
	if (v > b->end - b->off)
		return parse_fail(why, f->overrun);
	*n = v;
	return 1;
}

int ber_tlv_tag(struct ber *b, const uint8_t *tag, size_t tag_len, const struct ber_field *f,
                struct ber *inner, const char **why)
{
	size_t n;
	if (b->end - b->off < tag_len || memcmp(b->buf + b->off, tag, tag_len) != 0)
		return parse_fail(why, f->bad_tag);
	b->off += tag_len;
	if (ber_length(b, f, &n, why) < 0)
		return -1;
	inner->buf = b->buf;
	inner->off = b->off;
	inner->end = b->off + n;
	b->off += n;
	return 1;
}

int ber_tlv(struct ber *b, const struct ber_field *f, struct ber *inner, const char **why)
{
	return ber_tlv_tag(b, &f->tag, 1, f, inner, why);
}
