/* The subset of BER (X.690) that MCS (T.125) PDUs use in RDP: definite
 * lengths only (MS-RDPBCGR 2.2.1.3, 2.2.1.4). A cursor over a window of a
 * buffer, reading tag-length-value triples with every length checked
 * against the enclosing value. Return convention and *why as in tpkt.h. */
#ifndef MD9_BER_H
#define MD9_BER_H

#include <stddef.h>
#include <stdint.h>

#define BER_OCTET_STRING 0x04
#define BER_BOOLEAN      0x01
#define BER_INTEGER      0x02
#define BER_ENUMERATED   0x0A
#define BER_SEQUENCE     0x30

/* Window buf[off..end) of an enclosing BER value. Invariant: off <= end and
 * buf[0..end) is readable. */
struct ber {
	const uint8_t *buf;
	size_t off;
	size_t end;
};

/* Reasons for one BER field; built from the field name at compile time. */
struct ber_field {
	uint8_t tag;
	const char *bad_tag;
	const char *bad_len;
	const char *overrun;
};

#define BER_FIELD(t, name)                                                                         \
	{                                                                                          \
		(t), name ": unexpected BER tag or truncated",                                     \
		    name ": invalid BER length (indefinite, over 4 octets, or truncated)",         \
		    name ": BER length exceeds the enclosing value"                                \
	}

/* Length octets at b->off: short form, or long form with 1..4 octets
 * (non-minimal long forms are accepted: FreeRDP always writes 0x82 for
 * Connect-Initial). The value must fit in what remains of b. */
int ber_length(struct ber *b, const struct ber_field *f, size_t *n, const char **why);

/* Reads tag (tag_len bytes) and length at b->off; *inner gets the contents
 * window and b->off moves past them. */
int ber_tlv_tag(struct ber *b, const uint8_t *tag, size_t tag_len, const struct ber_field *f,
                struct ber *inner, const char **why);

int ber_tlv(struct ber *b, const struct ber_field *f, struct ber *inner, const char **why);

#endif
