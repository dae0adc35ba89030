/* cmocka tests for tpkt.h and x224.h: TPKT framing and the client's X.224
 * Connection Request read in every valid form (cookies, routing tokens,
 * correlation info, the largest, every prefix, a next PDU already read) and
 * refused when malformed, with a reason. Frames and builder are
 * x224_fixture.h's; every parse runs on an exact-size heap copy (ASan). */
#include "x224_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
