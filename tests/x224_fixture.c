/* The X.224 tests' frames and builder: x224_fixture.h. */
#include "x224_fixture.h"

#include "bytes.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

const uint8_t seed_cr[19] = {0x03, 0x00, 0x00, 0x13, 0x0e, 0xe0, 0x00, 0x00, 0x00, 0x00,
                             0x00, 0x01, 0x00, 0x08, 0x00, 0x0b, 0x00, 0x00, 0x00};
const uint8_t seed_cc[19] = {0x03, 0x00, 0x00, 0x13, 0x0e, 0xd0, 0x00, 0x00, 0x12, 0x34,
                             0x00, 0x02, 0x03, 0x08, 0x00, 0x01, 0x00, 0x00, 0x00};

const char cookie[] = "Cookie: mstshash=MOURI-LAPTOP-1";
const char msts_token[] = "Cookie: msts=3640205228.15629.0000";
const char tsv_token[] = "tsv://MS Terminal Services Plugin.1.Sessions";

int parse_cr_exact(const uint8_t *p, size_t n, struct x224_cr *cr, const char **why)
{
	uint8_t *d = dup_exact(p, n);
	int r = x224_parse_cr(d, n, cr, why);
	free(d);
	return r;
}

int parse_cc_exact(const uint8_t *p, size_t n, struct x224_cc *cc, const char **why)
{
	uint8_t *d = dup_exact(p, n);
	int r = x224_parse_cc(d, n, cc, why);
	free(d);
	return r;
}

void build_cr(struct vec *v, const char *token, int neg, uint8_t flags, uint32_t protocols)
{
	size_t n = 11;
	memset(v, 0, sizeof(*v));
	v->b[0] = 3;
	v->b[5] = 0xe0;
	if (token) {
		size_t t = strlen(token);
		memcpy(v->b + n, token, t);
		memcpy(v->b + n + t, "\r\n", 2);
		n += t + 2;
	}
	if (neg) {
		v->b[n] = 1;
		v->b[n + 1] = flags;
		v->b[n + 2] = 8;
		wr32le(v->b + n + 4, protocols);
		n += 8;
		if (flags & X224_NEG_CORRELATION_INFO_PRESENT) {
			v->b[n] = 6;
			v->b[n + 2] = 36;
			for (int i = 0; i < 16; i++)
				v->b[n + 4 + i] = (uint8_t)(0x11 * (i + 1));
			n += 36;
		}
	}
	v->b[2] = (uint8_t)(n >> 8);
	v->b[3] = (uint8_t)n;
	v->b[4] = (uint8_t)(n - 5);
	v->n = n;
}
