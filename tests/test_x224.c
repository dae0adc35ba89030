/* cmocka tests for tpkt.h and x224.h. Every parse runs on an exact-size heap
 * copy so that ASan reports any read past len. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tpkt.h"
#include "x224.h"

/* Seed frame 1 (protocol.md §7): RDP_NEG_REQ, requestedProtocols 0x0B. */
static const uint8_t seed_cr[19] = {0x03, 0x00, 0x00, 0x13, 0x0e, 0xe0, 0x00, 0x00, 0x00, 0x00,
                                    0x00, 0x01, 0x00, 0x08, 0x00, 0x0b, 0x00, 0x00, 0x00};
/* Seed frame 2: RDP_NEG_RSP, flags 0x03, selectedProtocol SSL. */
static const uint8_t seed_cc[19] = {0x03, 0x00, 0x00, 0x13, 0x0e, 0xd0, 0x00, 0x00, 0x12, 0x34,
                                    0x00, 0x02, 0x03, 0x08, 0x00, 0x01, 0x00, 0x00, 0x00};

struct vec {
	uint8_t b[300];
	size_t n;
};

static uint8_t *dup_exact(const uint8_t *p, size_t n)
{
	uint8_t *d = malloc(n ? n : 1);
	assert_non_null(d);
	if (n)
		memcpy(d, p, n);
	return d;
}

static int parse_cr_exact(const uint8_t *p, size_t n, struct x224_cr *cr, const char **why)
{
	uint8_t *d = dup_exact(p, n);
	int r = x224_parse_cr(d, n, cr, why);
	free(d);
	return r;
}

static int parse_cc_exact(const uint8_t *p, size_t n, struct x224_cc *cc, const char **why)
{
	uint8_t *d = dup_exact(p, n);
	int r = x224_parse_cc(d, n, cc, why);
	free(d);
	return r;
}

static void put32le(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Builds a CR: optional token (CR LF appended), optional RDP_NEG_REQ, and
 * correlation info when flags has 0x08. */
static void build_cr(struct vec *v, const char *token, int neg, uint8_t flags, uint32_t protocols)
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
		put32le(v->b + n + 4, protocols);
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

static const char cookie[] = "Cookie: mstshash=MOURI-LAPTOP-1";
static const char msts_token[] = "Cookie: msts=3640205228.15629.0000";
static const char tsv_token[] = "tsv://MS Terminal Services Plugin.1.Sessions";

/* ---- TPKT ---- */

static void test_tpkt_short(void **state)
{
	(void)state;
	size_t n = 99;
	for (size_t k = 0; k < 4; k++) {
		uint8_t *d = dup_exact(seed_cr, k);
		const char *why = NULL;
		assert_int_equal(tpkt_pdu_length(d, k, &n, &why), 0);
		assert_non_null(why); /* a reason on 0 too, for callers that log it */
		free(d);
	}
	assert_int_equal(n, 99);
}

static void test_tpkt_valid(void **state)
{
	(void)state;
	size_t n = 0;
	const uint8_t min[4] = {3, 0, 0, 7}, max[4] = {3, 0, 0xff, 0xff}, rsv[4] = {3, 0x55, 0, 8};
	assert_int_equal(tpkt_pdu_length(seed_cr, 4, &n, NULL), 1);
	assert_int_equal(n, 19);
	assert_int_equal(tpkt_pdu_length(min, 4, &n, NULL), 1);
	assert_int_equal(n, 7);
	assert_int_equal(tpkt_pdu_length(max, 4, &n, NULL), 1);
	assert_int_equal(n, 65535);
	assert_int_equal(tpkt_pdu_length(rsv, 4, NULL, NULL), 1); /* reserved byte ignored */
}

static void test_tpkt_invalid(void **state)
{
	(void)state;
	const uint8_t bad[][4] = {
	    {2, 0, 0, 19},
	    {0x30, 0x13, 0, 0}, /* fast-path looking */
	    {3, 0, 0, 6},
	    {3, 0, 0, 0},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *why = NULL;
		assert_int_equal(tpkt_pdu_length(bad[i], 4, NULL, &why), -1);
		assert_non_null(why);
		assert_true(strlen(why) > 0);
	}
}

/* ---- Connection Request: valid forms ---- */

static void test_cr_seed(void **state)
{
	(void)state;
	struct x224_cr cr;
	const char *why = "untouched";
	assert_int_equal(parse_cr_exact(seed_cr, sizeof(seed_cr), &cr, &why), 1);
	assert_string_equal(why, "untouched");
	assert_int_equal(cr.pdu_len, 19);
	assert_false(cr.has_cookie);
	assert_false(cr.has_routing_token);
	assert_true(cr.has_neg_req);
	assert_int_equal(cr.neg_req_off, 11);
	assert_int_equal(cr.neg_flags, 0);
	assert_int_equal(cr.requested_protocols, 0x0b);
	assert_false(cr.has_correlation_info);
	assert_string_equal(x224_protocol_name(cr.requested_protocols), "SSL|HYBRID|HYBRID_EX");
}

static void test_cr_cookie(void **state)
{
	(void)state;
	struct vec v;
	struct x224_cr cr;
	build_cr(&v, cookie, 1, 0, X224_PROTOCOL_SSL);
	assert_int_equal(parse_cr_exact(v.b, v.n, &cr, NULL), 1);
	assert_int_equal(cr.pdu_len, v.n);
	assert_true(cr.has_cookie);
	assert_false(cr.has_routing_token);
	assert_int_equal(cr.token_off, 11);
	assert_int_equal(cr.token_len, strlen(cookie));
	assert_memory_equal(v.b + cr.token_off, cookie, cr.token_len);
	assert_true(cr.has_neg_req);
	assert_int_equal(cr.neg_req_off, 11 + strlen(cookie) + 2);
	assert_int_equal(cr.requested_protocols, X224_PROTOCOL_SSL);
}

static void test_cr_routing_tokens(void **state)
{
	(void)state;
	const char *tokens[] = {msts_token, tsv_token, "x", "Cookie: mstshash"};
	for (size_t i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++) {
		struct vec v;
		struct x224_cr cr;
		build_cr(&v, tokens[i], 1, 0, 3);
		assert_int_equal(parse_cr_exact(v.b, v.n, &cr, NULL), 1);
		assert_false(cr.has_cookie);
		assert_true(cr.has_routing_token);
		assert_int_equal(cr.token_len, strlen(tokens[i]));
		assert_true(cr.has_neg_req);
		assert_int_equal(cr.requested_protocols, 3);
	}
}

static void test_cr_empty_cookie_and_embedded_cr(void **state)
{
	(void)state;
	struct vec v;
	struct x224_cr cr;
	build_cr(&v, "Cookie: mstshash=", 1, 0, 0);
	assert_int_equal(parse_cr_exact(v.b, v.n, &cr, NULL), 1);
	assert_true(cr.has_cookie);
	/* A lone CR inside the token does not end it; the first CR LF does. */
	build_cr(&v, "Cookie: mstshash=a\rb", 0, 0, 0);
	assert_int_equal(parse_cr_exact(v.b, v.n, &cr, NULL), 1);
	assert_true(cr.has_cookie);
	assert_int_equal(cr.token_len, strlen("Cookie: mstshash=a\rb"));
}

static void test_cr_correlation_info(void **state)
{
	(void)state;
	struct vec v;
	struct x224_cr cr;
	build_cr(&v, cookie, 1, X224_NEG_CORRELATION_INFO_PRESENT | 1, 0x0b);
	assert_int_equal(parse_cr_exact(v.b, v.n, &cr, NULL), 1);
	assert_true(cr.has_cookie);
	assert_true(cr.has_correlation_info);
	assert_int_equal(cr.neg_flags, 0x09);
	assert_int_equal(cr.pdu_len, 11 + strlen(cookie) + 2 + 8 + 36);
	build_cr(&v, NULL, 1, X224_NEG_CORRELATION_INFO_PRESENT, 0x0b);
	assert_int_equal(parse_cr_exact(v.b, v.n, &cr, NULL), 1);
	assert_true(cr.has_correlation_info);
	assert_int_equal(cr.pdu_len, 11 + 8 + 36);
}

static void test_cr_without_neg_req(void **state)
{
	(void)state;
	struct vec v;
	struct x224_cr cr;
	build_cr(&v, cookie, 0, 0, 0);
	assert_int_equal(parse_cr_exact(v.b, v.n, &cr, NULL), 1);
	assert_true(cr.has_cookie);
	assert_false(cr.has_neg_req);
	assert_int_equal(cr.requested_protocols, X224_PROTOCOL_RDP);
	build_cr(&v, NULL, 0, 0, 0);
	assert_int_equal(v.n, 11);
	assert_int_equal(parse_cr_exact(v.b, v.n, &cr, NULL), 1);
	assert_false(cr.has_cookie || cr.has_routing_token || cr.has_neg_req);
}

static void test_cr_max_size(void **state)
{
	(void)state;
	char tok[300];
	struct vec v;
	struct x224_cr cr;
	/* 11 + token + 2 + 8 = 259: LI 254, the maximum. */
	memset(tok, 'a', sizeof(tok));
	tok[259 - 11 - 2 - 8] = 0;
	build_cr(&v, tok, 1, 0, 1);
	assert_int_equal(v.n, 259);
	assert_int_equal(parse_cr_exact(v.b, v.n, &cr, NULL), 1);
	assert_int_equal(v.b[4], 254);
}

/* Every valid vector used by the prefix, coalescing and mutation tests. */
static size_t all_valid(struct vec *out)
{
	size_t n = 0;
	memcpy(out[n].b, seed_cr, sizeof(seed_cr));
	out[n++].n = sizeof(seed_cr);
	build_cr(&out[n++], cookie, 1, 0, 0x0b);
	build_cr(&out[n++], msts_token, 1, 0, 0x0b);
	build_cr(&out[n++], tsv_token, 0, 0, 0);
	build_cr(&out[n++], cookie, 1, 0x08, 0x0b);
	build_cr(&out[n++], NULL, 1, 0x0b, 0x1f);
	build_cr(&out[n++], cookie, 0, 0, 0);
	build_cr(&out[n++], NULL, 0, 0, 0);
	return n;
}

static void test_cr_prefixes_need_more(void **state)
{
	(void)state;
	struct vec v[8];
	size_t nv = all_valid(v);
	for (size_t i = 0; i < nv; i++) {
		for (size_t k = 0; k < v[i].n; k++) {
			struct x224_cr cr;
			const char *why = NULL;
			int r = parse_cr_exact(v[i].b, k, &cr, &why);
			if (r != 0)
				fail_msg("vector %zu prefix %zu: %d (%s)", i, k, r, why ? why : "");
			assert_non_null(why);
		}
		assert_int_equal(parse_cr_exact(v[i].b, v[i].n, &(struct x224_cr){0}, NULL), 1);
	}
}

static void test_cr_coalesced(void **state)
{
	(void)state;
	struct vec v[8];
	size_t nv = all_valid(v);
	for (size_t i = 0; i < nv; i++) {
		uint8_t buf[600];
		struct x224_cr cr;
		memcpy(buf, v[i].b, v[i].n);
		memcpy(buf + v[i].n, seed_cr, sizeof(seed_cr)); /* next PDU already read */
		assert_int_equal(parse_cr_exact(buf, v[i].n + sizeof(seed_cr), &cr, NULL), 1);
		assert_int_equal(cr.pdu_len, v[i].n);
		assert_int_equal(parse_cr_exact(buf, v[i].n + 1, &cr, NULL), 1);
		assert_int_equal(cr.pdu_len, v[i].n);
	}
}

/* ---- Connection Request: malformed ---- */

struct bad_case {
	const char *name;
	struct vec v;
};

static void expect_cr_malformed(const struct bad_case *c)
{
	struct x224_cr cr;
	const char *why = NULL;
	int r = parse_cr_exact(c->v.b, c->v.n, &cr, &why);
	if (r != -1)
		fail_msg("%s: expected -1, got %d", c->name, r);
	if (!why || !*why)
		fail_msg("%s: no reason", c->name);
	print_message("  %-34s -> %s\n", c->name, why);
}

static void set_len(struct vec *v, size_t n)
{
	v->n = n;
	v->b[2] = (uint8_t)(n >> 8);
	v->b[3] = (uint8_t)n;
	v->b[4] = (uint8_t)(n - 5);
}

static void test_cr_malformed(void **state)
{
	(void)state;
	static struct bad_case c[32];
	size_t n = 0;

	c[n].name = "bad TPKT version";
	memcpy(c[n].v.b, seed_cr, 19), c[n].v.n = 19, c[n].v.b[0] = 2, n++;
	c[n].name = "LI 20 vs TPKT 19";
	memcpy(c[n].v.b, seed_cr, 19), c[n].v.n = 19, c[n].v.b[4] = 20, n++;
	c[n].name = "LI 13 vs TPKT 19";
	memcpy(c[n].v.b, seed_cr, 19), c[n].v.n = 19, c[n].v.b[4] = 13, n++;
	c[n].name = "code CC instead of CR";
	memcpy(c[n].v.b, seed_cr, 19), c[n].v.n = 19, c[n].v.b[5] = 0xd0, n++;
	c[n].name = "code DT instead of CR";
	memcpy(c[n].v.b, seed_cr, 19), c[n].v.n = 19, c[n].v.b[5] = 0xf0, n++;
	c[n].name = "class 2";
	memcpy(c[n].v.b, seed_cr, 19), c[n].v.n = 19, c[n].v.b[10] = 0x20, n++;
	c[n].name = "TPKT length 10";
	memcpy(c[n].v.b, seed_cr, 19), set_len(&c[n].v, 10), n++;
	c[n].name = "TPKT length 260";
	build_cr(&c[n].v, NULL, 0, 0, 0), set_len(&c[n].v, 260), n++;
	c[n].name = "neg length 9";
	memcpy(c[n].v.b, seed_cr, 19), c[n].v.n = 19, c[n].v.b[13] = 9, n++;
	c[n].name = "neg length 0x0108";
	memcpy(c[n].v.b, seed_cr, 19), c[n].v.n = 19, c[n].v.b[14] = 1, n++;
	c[n].name = "neg truncated by LI";
	memcpy(c[n].v.b, seed_cr, 19), set_len(&c[n].v, 18), n++;
	c[n].name = "trailing junk after neg";
	memcpy(c[n].v.b, seed_cr, 19), set_len(&c[n].v, 20), n++;
	c[n].name = "unterminated cookie";
	build_cr(&c[n].v, cookie, 0, 0, 0), c[n].v.b[c[n].v.n - 1] = 'x', n++;
	c[n].name = "cookie ends in CR only";
	build_cr(&c[n].v, cookie, 0, 0, 0), set_len(&c[n].v, c[n].v.n - 1), n++;
	c[n].name = "cookie, then junk";
	build_cr(&c[n].v, cookie, 0, 0, 0), c[n].v.b[c[n].v.n] = 'J',
	                                    set_len(&c[n].v, c[n].v.n + 1), n++;
	c[n].name = "cookie, then RDP_NEG_RSP type";
	build_cr(&c[n].v, cookie, 1, 0, 1), c[n].v.b[11 + strlen(cookie) + 2] = 2, n++;
	c[n].name = "correlation flag, no info";
	memcpy(c[n].v.b, seed_cr, 19), c[n].v.n = 19, c[n].v.b[12] = 0x08, n++;
	c[n].name = "correlation info without flag";
	build_cr(&c[n].v, NULL, 1, 0x08, 1), c[n].v.b[12] = 0, n++;
	c[n].name = "correlation info type 7";
	build_cr(&c[n].v, NULL, 1, 0x08, 1), c[n].v.b[19] = 7, n++;
	c[n].name = "correlation info length 35";
	build_cr(&c[n].v, NULL, 1, 0x08, 1), c[n].v.b[21] = 35, n++;
	c[n].name = "correlation info truncated";
	build_cr(&c[n].v, NULL, 1, 0x08, 1), set_len(&c[n].v, c[n].v.n - 1), n++;
	c[n].name = "correlation info, then junk";
	build_cr(&c[n].v, NULL, 1, 0x08, 1), set_len(&c[n].v, c[n].v.n + 1), n++;
	c[n].name = "RDP_NEG_REQ twice";
	memcpy(c[n].v.b, seed_cr, 19), memcpy(c[n].v.b + 19, seed_cr + 11, 8), set_len(&c[n].v, 27),
	    n++;

	for (size_t i = 0; i < n; i++)
		expect_cr_malformed(&c[i]);
}

/* The TPKT length bounds are judged from the header alone: no waiting for a
 * 65535-byte "Connection Request". */
static void test_cr_bad_length_fails_early(void **state)
{
	(void)state;
	const uint8_t big[4] = {3, 0, 0xff, 0xff}, small[5] = {3, 0, 0, 10, 5};
	const char *why = NULL;
	assert_int_equal(parse_cr_exact(big, 4, &(struct x224_cr){0}, &why), -1);
	assert_non_null(why);
	why = NULL;
	assert_int_equal(parse_cr_exact(small, 5, &(struct x224_cr){0}, &why), -1);
	assert_non_null(why);
}

/* Flip bits everywhere in every valid vector: never a crash or over-read, and
 * whatever parses must be self-consistent. */
static void test_cr_mutations(void **state)
{
	(void)state;
	static const uint8_t masks[] = {0x01, 0x02, 0x08, 0x10, 0x80, 0xff};
	struct vec v[8];
	size_t nv = all_valid(v);
	for (size_t i = 0; i < nv; i++)
		for (size_t pos = 0; pos < v[i].n; pos++)
			for (size_t m = 0; m < sizeof(masks); m++) {
				struct vec t = v[i];
				struct x224_cr cr;
				const char *why = NULL;
				t.b[pos] ^= masks[m];
				int r = parse_cr_exact(t.b, t.n, &cr, &why);
				if (r == -1)
					assert_non_null(why);
				if (r == 1) {
					assert_true(cr.pdu_len <= t.n);
					assert_true(!cr.has_neg_req ||
					            cr.neg_req_off + 8 <= cr.pdu_len);
				}
			}
}

/* ---- x224_set_requested_protocols ---- */

static void test_set_seed_to_rdp(void **state)
{
	(void)state;
	uint8_t out[300];
	size_t out_len = 0;
	struct x224_cr cr;
	assert_int_equal(x224_set_requested_protocols(seed_cr, 19, X224_PROTOCOL_RDP, out,
	                                              sizeof(out), &out_len, NULL),
	                 0);
	assert_int_equal(out_len, 19);
	for (size_t i = 0; i < 19; i++)
		if (i != 15)
			assert_int_equal(out[i], seed_cr[i]);
	assert_int_equal(out[15], 0);
	assert_int_equal(x224_parse_cr(out, out_len, &cr, NULL), 1);
	assert_true(cr.has_neg_req);
	assert_int_equal(cr.requested_protocols, 0);
}

static void test_set_keeps_everything_else(void **state)
{
	(void)state;
	struct vec v;
	uint8_t out[300];
	size_t out_len = 0;
	struct x224_cr cr;
	build_cr(&v, cookie, 1, 0x09, 0x0b);
	assert_int_equal(
	    x224_set_requested_protocols(v.b, v.n, 0x12345678, out, v.n, &out_len, NULL), 0);
	assert_int_equal(out_len, v.n);
	assert_int_equal(x224_parse_cr(out, out_len, &cr, NULL), 1);
	assert_int_equal(cr.requested_protocols, 0x12345678);
	size_t field = cr.neg_req_off + 4, diffs = 0;
	for (size_t i = 0; i < v.n; i++)
		if (out[i] != v.b[i]) {
			assert_true(i >= field && i < field + 4);
			diffs++;
		}
	assert_int_equal(diffs, 4);
	assert_true(cr.has_cookie && cr.has_correlation_info);
	assert_int_equal(cr.neg_flags, 0x09);
}

static void test_set_appends_after_token(void **state)
{
	(void)state;
	const char *tokens[] = {cookie, msts_token, NULL};
	for (size_t i = 0; i < 3; i++) {
		struct vec v;
		uint8_t out[300];
		size_t out_len = 0;
		struct x224_cr cr;
		build_cr(&v, tokens[i], 0, 0, 0);
		assert_int_equal(x224_set_requested_protocols(v.b, v.n, X224_PROTOCOL_SSL, out,
		                                              sizeof(out), &out_len, NULL),
		                 0);
		assert_int_equal(out_len, v.n + 8);
		assert_int_equal(out[2] << 8 | out[3], v.n + 8);
		assert_int_equal(out[4], v.n + 8 - 5);
		assert_memory_equal(out + 5, v.b + 5, v.n - 5);
		uint8_t *d = dup_exact(out, out_len);
		assert_int_equal(x224_parse_cr(d, out_len, &cr, NULL), 1);
		free(d);
		assert_true(cr.has_neg_req);
		assert_int_equal(cr.neg_req_off, v.n);
		assert_int_equal(cr.neg_flags, 0);
		assert_int_equal(cr.requested_protocols, X224_PROTOCOL_SSL);
		assert_int_equal(cr.has_cookie, tokens[i] == cookie);
	}
}

static void test_set_absent_zero_unchanged(void **state)
{
	(void)state;
	struct vec v;
	uint8_t out[300];
	size_t out_len = 0;
	build_cr(&v, cookie, 0, 0, 0);
	assert_int_equal(x224_set_requested_protocols(v.b, v.n, 0, out, v.n, &out_len, NULL), 0);
	assert_int_equal(out_len, v.n);
	assert_memory_equal(out, v.b, v.n);
}

static void test_set_in_place(void **state)
{
	(void)state;
	struct vec v;
	size_t out_len = 0;
	struct x224_cr cr;
	build_cr(&v, cookie, 0, 0, 0);
	assert_int_equal(
	    x224_set_requested_protocols(v.b, v.n, 0x0b, v.b, sizeof(v.b), &out_len, NULL), 0);
	assert_int_equal(x224_parse_cr(v.b, out_len, &cr, NULL), 1);
	assert_int_equal(cr.requested_protocols, 0x0b);
	memcpy(v.b, seed_cr, 19);
	assert_int_equal(x224_set_requested_protocols(v.b, 19, 0, v.b, 19, &out_len, NULL), 0);
	assert_int_equal(v.b[15], 0);
}

static void test_set_errors(void **state)
{
	(void)state;
	char tok[300];
	struct vec v;
	uint8_t out[300], two[38];
	size_t out_len = 77;
	const char *why;

	/* LI 254 already: no room for 8 more bytes. */
	memset(tok, 'a', sizeof(tok));
	tok[259 - 11 - 2] = 0;
	build_cr(&v, tok, 0, 0, 0);
	assert_int_equal(v.n, 259);
	why = NULL;
	assert_int_equal(
	    x224_set_requested_protocols(v.b, v.n, 1, out, sizeof(out), &out_len, &why), -1);
	assert_non_null(why);
	/* ...but 0 needs no room. */
	assert_int_equal(
	    x224_set_requested_protocols(v.b, v.n, 0, out, sizeof(out), &out_len, NULL), 0);
	/* LI 246 is the largest that can grow. */
	tok[259 - 11 - 2 - 8] = 0;
	build_cr(&v, tok, 0, 0, 0);
	assert_int_equal(
	    x224_set_requested_protocols(v.b, v.n, 1, out, sizeof(out), &out_len, NULL), 0);
	assert_int_equal(out_len, 259);

	why = NULL;
	assert_int_equal(x224_set_requested_protocols(seed_cr, 19, 0, out, 18, &out_len, &why), -1);
	assert_non_null(why);
	build_cr(&v, NULL, 0, 0, 0);
	why = NULL;
	assert_int_equal(x224_set_requested_protocols(v.b, v.n, 1, out, v.n + 7, &out_len, &why),
	                 -1);
	assert_non_null(why);
	why = NULL;
	assert_int_equal(
	    x224_set_requested_protocols(seed_cr, 18, 0, out, sizeof(out), &out_len, &why), -1);
	assert_non_null(why);
	memcpy(two, seed_cr, 19);
	memcpy(two + 19, seed_cr, 19);
	why = NULL;
	assert_int_equal(x224_set_requested_protocols(two, 38, 0, out, sizeof(out), &out_len, &why),
	                 -1);
	assert_non_null(why);
	two[0] = 4;
	why = NULL;
	assert_int_equal(x224_set_requested_protocols(two, 19, 0, out, sizeof(out), &out_len, &why),
	                 -1);
	assert_non_null(why);
	assert_int_equal(out_len, 259); /* untouched by the failures */
}

/* ---- Connection Confirm ---- */

static void test_cc_seed(void **state)
{
	(void)state;
	struct x224_cc cc;
	assert_int_equal(parse_cc_exact(seed_cc, 19, &cc, NULL), 1);
	assert_int_equal(cc.pdu_len, 19);
	assert_true(cc.has_neg);
	assert_int_equal(cc.neg_type, X224_TYPE_RDP_NEG_RSP);
	assert_int_equal(cc.neg_flags, 0x03);
	assert_int_equal(cc.selected_protocol, X224_PROTOCOL_SSL);
	assert_int_equal(cc.failure_code, 0);
	for (size_t k = 0; k < 19; k++)
		assert_int_equal(parse_cc_exact(seed_cc, k, &cc, NULL), 0);
	uint8_t two[40];
	memcpy(two, seed_cc, 19);
	memcpy(two + 19, seed_cr, 19);
	assert_int_equal(parse_cc_exact(two, 38, &cc, NULL), 1);
	assert_int_equal(cc.pdu_len, 19);
}

static void test_cc_bare_is_rdp(void **state)
{
	(void)state;
	const uint8_t bare[11] = {3, 0, 0, 11, 6, 0xd0, 0, 0, 0x12, 0x34, 0};
	struct x224_cc cc;
	assert_int_equal(parse_cc_exact(bare, 11, &cc, NULL), 1);
	assert_false(cc.has_neg);
	assert_int_equal(cc.selected_protocol, X224_PROTOCOL_RDP);
	for (size_t k = 0; k < 11; k++)
		assert_int_equal(parse_cc_exact(bare, k, &cc, NULL), 0);
}

static void test_cc_failure(void **state)
{
	(void)state;
	uint8_t f[19];
	struct x224_cc cc;
	memcpy(f, seed_cc, 19);
	f[11] = 3;
	f[12] = 0;
	f[15] = X224_HYBRID_REQUIRED_BY_SERVER;
	assert_int_equal(parse_cc_exact(f, 19, &cc, NULL), 1);
	assert_true(cc.has_neg);
	assert_int_equal(cc.neg_type, X224_TYPE_RDP_NEG_FAILURE);
	assert_int_equal(cc.failure_code, X224_HYBRID_REQUIRED_BY_SERVER);
	assert_int_equal(cc.selected_protocol, X224_PROTOCOL_RDP);
	assert_string_equal(x224_failure_name(cc.failure_code), "HYBRID_REQUIRED_BY_SERVER");
}

/* MS-RDPBCGR 3.3.5.3.2: a CR without RDP_NEG_REQ gets a CC without
 * rdpNegData; md9 builds that form from the server's CC. */
static void test_legacy_cc(void **state)
{
	(void)state;
	const uint8_t bare[11] = {3, 0, 0, 11, 6, 0xd0, 0, 0, 0x12, 0x34, 0};
	uint8_t out[32], in[19];
	size_t n = 0;
	const char *why = NULL;
	struct x224_cc cc;

	/* From the seed's RDP_NEG_RSP (SSL): the fixed part, references kept. */
	memcpy(in, seed_cc, 19);
	in[8] = 0x12;
	in[9] = 0x34;
	assert_int_equal(x224_legacy_cc(in, 19, out, sizeof(out), &n, &why), 0);
	assert_int_equal(n, 11);
	assert_memory_equal(out, bare, 11);
	assert_int_equal(parse_cc_exact(out, n, &cc, NULL), 1);
	assert_false(cc.has_neg);
	/* From an RDP_NEG_FAILURE, in place. */
	in[11] = 3;
	in[15] = X224_SSL_REQUIRED_BY_SERVER;
	assert_int_equal(x224_legacy_cc(in, 19, in, sizeof(in), &n, &why), 0);
	assert_int_equal(n, 11);
	assert_memory_equal(in, bare, 11);
	/* Already legacy: unchanged. */
	assert_int_equal(x224_legacy_cc(bare, 11, out, 11, &n, &why), 0);
	assert_memory_equal(out, bare, 11);
	/* Errors: incomplete, extra bytes, malformed, no room. */
	why = NULL;
	assert_int_equal(x224_legacy_cc(seed_cc, 18, out, sizeof(out), &n, &why), -1);
	assert_non_null(why);
	uint8_t two[38];
	memcpy(two, seed_cc, 19);
	memcpy(two + 19, seed_cc, 19);
	assert_int_equal(x224_legacy_cc(two, 38, out, sizeof(out), &n, &why), -1);
	assert_int_equal(x224_legacy_cc(seed_cr, 19, out, sizeof(out), &n, &why), -1);
	assert_int_equal(x224_legacy_cc(seed_cc, 19, out, 10, &n, &why), -1);
}

static void test_cc_malformed(void **state)
{
	(void)state;
	struct {
		const char *name;
		size_t pos; /* byte to change, or SIZE_MAX to shorten */
		uint8_t val;
	} c[] = {
	    {"version", 0, 4},
	    {"LI", 4, 15},
	    {"code CR", 5, 0xe0},
	    {"class 4", 10, 0x40},
	    {"neg type 1", 11, 1},
	    {"neg type 6", 11, 6},
	    {"neg length 7", 13, 7},
	    {"TPKT 10", 3, 10},
	    {"TPKT 12 / LI 7", SIZE_MAX, 12},
	    {"TPKT 20 / LI 15", SIZE_MAX, 20},
	    {"TPKT 260", SIZE_MAX, 0},
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		uint8_t b[300] = {0};
		size_t n = 19;
		struct x224_cc cc;
		const char *why = NULL;
		memcpy(b, seed_cc, 19);
		if (c[i].pos == SIZE_MAX) {
			n = c[i].val ? c[i].val : 260;
			b[2] = (uint8_t)(n >> 8), b[3] = (uint8_t)n, b[4] = (uint8_t)(n - 5);
		} else {
			b[c[i].pos] = c[i].val;
		}
		int r = parse_cc_exact(b, n, &cc, &why);
		if (r != -1 || !why)
			fail_msg("CC %s: got %d", c[i].name, r);
		print_message("  %-34s -> %s\n", c[i].name, why);
	}
}

/* ---- names ---- */

static void test_protocol_names(void **state)
{
	(void)state;
	assert_string_equal(x224_protocol_name(0), "RDP");
	assert_string_equal(x224_protocol_name(X224_PROTOCOL_SSL), "SSL");
	assert_string_equal(x224_protocol_name(X224_PROTOCOL_HYBRID), "HYBRID");
	assert_string_equal(x224_protocol_name(X224_PROTOCOL_RDSTLS), "RDSTLS");
	assert_string_equal(x224_protocol_name(X224_PROTOCOL_HYBRID_EX), "HYBRID_EX");
	assert_string_equal(x224_protocol_name(X224_PROTOCOL_RDSAAD), "RDSAAD");
	assert_string_equal(x224_protocol_name(3), "SSL|HYBRID");
	assert_string_equal(x224_protocol_name(0x1f), "SSL|HYBRID|RDSTLS|HYBRID_EX|RDSAAD");
	assert_string_equal(x224_protocol_name(0x20), "UNKNOWN");
	assert_string_equal(x224_protocol_name(0xffffffffu), "UNKNOWN");
	/* Each table entry lists exactly the bits of its index. */
	static const char *const bit[5] = {"SSL", "HYBRID", "RDSTLS", "HYBRID_EX", "RDSAAD"};
	for (uint32_t p = 1; p < 32; p++) {
		char want[80] = "";
		for (int b = 0; b < 5; b++)
			if (p & (1u << b)) {
				if (*want)
					strcat(want, "|");
				strcat(want, bit[b]);
			}
		assert_string_equal(x224_protocol_name(p), want);
	}
}

static void test_failure_names(void **state)
{
	(void)state;
	assert_string_equal(x224_failure_name(1), "SSL_REQUIRED_BY_SERVER");
	assert_string_equal(x224_failure_name(2), "SSL_NOT_ALLOWED_BY_SERVER");
	assert_string_equal(x224_failure_name(3), "SSL_CERT_NOT_ON_SERVER");
	assert_string_equal(x224_failure_name(4), "INCONSISTENT_FLAGS");
	assert_string_equal(x224_failure_name(5), "HYBRID_REQUIRED_BY_SERVER");
	assert_string_equal(x224_failure_name(6), "SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER");
	assert_string_equal(x224_failure_name(0), "UNKNOWN");
	assert_string_equal(x224_failure_name(7), "UNKNOWN");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tpkt_short),
	    cmocka_unit_test(test_tpkt_valid),
	    cmocka_unit_test(test_tpkt_invalid),
	    cmocka_unit_test(test_cr_seed),
	    cmocka_unit_test(test_cr_cookie),
	    cmocka_unit_test(test_cr_routing_tokens),
	    cmocka_unit_test(test_cr_empty_cookie_and_embedded_cr),
	    cmocka_unit_test(test_cr_correlation_info),
	    cmocka_unit_test(test_cr_without_neg_req),
	    cmocka_unit_test(test_cr_max_size),
	    cmocka_unit_test(test_cr_prefixes_need_more),
	    cmocka_unit_test(test_cr_coalesced),
	    cmocka_unit_test(test_cr_malformed),
	    cmocka_unit_test(test_cr_bad_length_fails_early),
	    cmocka_unit_test(test_cr_mutations),
	    cmocka_unit_test(test_set_seed_to_rdp),
	    cmocka_unit_test(test_set_keeps_everything_else),
	    cmocka_unit_test(test_set_appends_after_token),
	    cmocka_unit_test(test_set_absent_zero_unchanged),
	    cmocka_unit_test(test_set_in_place),
	    cmocka_unit_test(test_set_errors),
	    cmocka_unit_test(test_cc_seed),
	    cmocka_unit_test(test_cc_bare_is_rdp),
	    cmocka_unit_test(test_cc_failure),
	    cmocka_unit_test(test_cc_malformed),
	    cmocka_unit_test(test_legacy_cc),
	    cmocka_unit_test(test_protocol_names),
	    cmocka_unit_test(test_failure_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
