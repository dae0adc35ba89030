/* cmocka tests for x224.h: x224_set_requested_protocols, the rewrite of the
 * Connection Request's requestedProtocols: what changes, what stays, where
 * an RDP_NEG_REQ is appended, in place, and the refusals. Frames and builder
 * are x224_fixture.h's. */
#include "x224_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_set_seed_to_rdp),
	    cmocka_unit_test(test_set_keeps_everything_else),
	    cmocka_unit_test(test_set_appends_after_token),
	    cmocka_unit_test(test_set_absent_zero_unchanged),
	    cmocka_unit_test(test_set_in_place),
	    cmocka_unit_test(test_set_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
