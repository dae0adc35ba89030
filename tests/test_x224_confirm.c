/* cmocka tests for x224.h: the server's X.224 Connection Confirm (RDP_NEG_RSP,
 * none at all, RDP_NEG_FAILURE, the legacy forms, malformed ones) and the
 * names md9 logs for protocols and failure codes. Frames are
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
	    cmocka_unit_test(test_cc_seed),       cmocka_unit_test(test_cc_bare_is_rdp),
	    cmocka_unit_test(test_cc_failure),    cmocka_unit_test(test_cc_malformed),
	    cmocka_unit_test(test_legacy_cc),     cmocka_unit_test(test_protocol_names),
	    cmocka_unit_test(test_failure_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
