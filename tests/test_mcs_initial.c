/* cmocka tests for mcs.h: the client's MCS Connect-Initial (built by
 * mcs_initial_fixture.c) read and its serverSelectedProtocol rewritten in
 * every valid form clients send: the seed's layout, long-form BER and
 * two-octet PER lengths, short core blocks, other block orders and extra
 * elements, PER padding bits; and a Connect-Response told apart from it.
 * Parses run on exact-size heap copies (ASan). */
#include "mcs_initial_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void test_seed_frame3_layout(void **state)
{
	(void)state;
	uint8_t pdu[1024];
	struct mcs_connect_initial ci;
	size_t n = build_ci(pdu, sizeof(pdu), &seed_opts);

	assert_int_equal(n, 462);
	/* 7F 65 82 01 C2: long-form length 450, as mstsc-style clients send. */
	assert_memory_equal(pdu + 7, ((const uint8_t[]){0x7f, 0x65, 0x82, 0x01, 0xc2}), 5);
	assert_int_equal(parse_exact(pdu, n, &ci, NULL), 1);
	assert_int_equal(ci.block_count, 6);
	assert_int_equal(ci.blocks_len, 234 + 12 + 12 + 56 + 8 + 8);
	assert_int_equal(ci.blocks_off + ci.blocks_len, n);
	assert_int_equal(ci.user_data_off + ci.user_data_len, n);
	assert_int_equal(ci.core_off, ci.blocks_off);
	assert_int_equal(ci.core_len, 234);
	assert_int_equal(pdu[ci.core_off], 0x01);
	assert_int_equal(pdu[ci.core_off + 1], 0xc0);
	/* The GCC header as MS-RDPBCGR 4.1.3 shows it, with this PDU's lengths. */
	static const uint8_t gcc_head[] = {0x00, 0x05, 0x00, 0x14, 0x7c, 0x00, 0x01, 0x81,
	                                   0x58, 0x00, 0x08, 0x00, 0x10, 0x00, 0x01, 0xc0,
	                                   0x00, 'D',  'u',  'c',  'a',  0x81, 0x4a};
	assert_int_equal(ci.blocks_off - ci.user_data_off, sizeof(gcc_head));
	assert_memory_equal(pdu + ci.user_data_off, gcc_head, sizeof(gcc_head));
}

static void test_rewrite_changes_exactly_4_bytes(void **state)
{
	(void)state;
	uint8_t pdu[1024], orig[1024];
	struct mcs_connect_initial ci;
	uint32_t old = 0;
	const char *why = "untouched";
	size_t n = build_ci(pdu, sizeof(pdu), &seed_opts);

	memcpy(orig, pdu, n);
	assert_int_equal(mcs_parse_connect_initial(pdu, n, &ci, NULL), 1);
	assert_int_equal(mcs_set_server_selected_protocol(pdu, n, 0xA1B2C3D4, &old, &why), 1);
	assert_string_equal(why, "untouched");
	assert_int_equal(old, 1);
	size_t diffs = 0, field = ci.core_off + MCS_CORE_SSP_OFF;
	for (size_t i = 0; i < n; i++)
		if (pdu[i] != orig[i]) {
			assert_true(i >= field && i < field + 4);
			diffs++;
		}
	assert_int_equal(diffs, 4);
	assert_memory_equal(pdu + field, ((const uint8_t[]){0xD4, 0xC3, 0xB2, 0xA1}), 4);
	assert_int_equal(mcs_set_server_selected_protocol(pdu, n, 0, &old, NULL), 1);
	assert_int_equal(old, 0xA1B2C3D4);
	assert_int_equal(mcs_set_server_selected_protocol(pdu, n, 1, NULL, NULL), 1);
	assert_memory_equal(pdu, orig, n);
}

static void test_rewrite_to_rdp(void **state)
{
	(void)state;
	uint8_t pdu[1024];
	uint32_t old = 0;
	size_t n = build_ci(pdu, sizeof(pdu), &seed_opts);
	assert_int_equal(set_checked(pdu, n, 0, &old, NULL), 1);
	assert_int_equal(old, 1);
}

static void test_long_form_ber_lengths(void **state)
{
	(void)state;
	for (unsigned k = 1; k <= 4; k++) {
		uint8_t pdu[1024];
		struct ci_opts o = seed_opts;
		struct mcs_connect_initial ci;
		uint32_t old = 0;
		o.ber_len_octets = k;
		size_t n = build_ci(pdu, sizeof(pdu), &o);
		/* 7F 65 8k <k octets, at least 2 for 450>, then e.g.
		 * callingDomainSelector 04 81 01 01 for k = 1. */
		unsigned kci = k < 2 ? 2 : k;
		assert_int_equal(pdu[9], 0x80 | kci);
		assert_int_equal(pdu[10 + kci], 0x04);
		assert_int_equal(pdu[10 + kci + 1], 0x80 | k);
		assert_int_equal(parse_exact(pdu, n, &ci, NULL), 1);
		assert_int_equal(ci.core_len, 234);
		assert_int_equal(set_checked(pdu, n, 0, &old, NULL), 1);
		assert_int_equal(old, 1);
	}
}

static void test_two_octet_per_lengths(void **state)
{
	(void)state;
	uint8_t pdu[1024];
	struct ci_opts o = seed_opts;
	uint32_t old = 0;
	o.per_len_two_octets = true;
	size_t n = build_ci(pdu, sizeof(pdu), &o);
	assert_int_equal(set_checked(pdu, n, 0, &old, NULL), 1);
	assert_int_equal(old, 1);
}

static void test_core_lengths(void **state)
{
	(void)state;
	static const struct {
		size_t len;
		int want;
	} c[] = {{234, 1}, {216, 1}, {215, 0}, {214, 0}, {212, 0}, {132, 0}, {8, 0}, {4, 0}};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		uint8_t pdu[1024];
		struct ci_opts o = seed_opts;
		uint32_t old = 77;
		const char *why = NULL;
		o.core_len = c[i].len;
		o.ssp = 0x0b;
		size_t n = build_ci(pdu, sizeof(pdu), &o);
		int r = set_checked(pdu, n, 0, &old, &why);
		assert_true(r == 1 ? why == NULL : why != NULL);
		if (r != c[i].want)
			fail_msg("core length %zu: got %d, want %d", c[i].len, r, c[i].want);
		assert_int_equal(old, c[i].want == 1 ? 0x0b : 77);
	}
}

static void test_block_order_and_extra_elements(void **state)
{
	(void)state;
	uint8_t pdu[1024];
	struct ci_opts o = seed_opts;
	struct mcs_connect_initial ci;
	uint32_t old = 0;

	o.core_last = true;
	size_t n = build_ci(pdu, sizeof(pdu), &o);
	assert_int_equal(parse_exact(pdu, n, &ci, NULL), 1);
	assert_int_equal(ci.core_off + ci.core_len, n);
	assert_int_equal(set_checked(pdu, n, 0, &old, NULL), 1);

	o = seed_opts;
	o.extra_set_element = true;
	n = build_ci(pdu, sizeof(pdu), &o);
	assert_int_equal(parse_exact(pdu, n, &ci, NULL), 1);
	assert_int_equal(ci.block_count, 6);
	assert_int_equal(set_checked(pdu, n, 0, &old, NULL), 1);
}

/* In ALIGNED PER the lengths of SimpleNumericString (SIZE (1..255)) and
 * H221NonStandardIdentifier (SIZE (4..255)) are 8-bit fields that are not
 * octet-aligned (X.691 §10.5.7.1: range < 256), followed by padding up to the
 * octet-aligned contents. Padding bits are not interpreted. */
static void test_per_padding_bits_ignored(void **state)
{
	(void)state;
	uint8_t pdu[1024];
	struct mcs_connect_initial ci;
	size_t n = build_ci(pdu, sizeof(pdu), &seed_opts);
	assert_int_equal(mcs_parse_connect_initial(pdu, n, &ci, NULL), 1);
	size_t ud = ci.user_data_off;
	pdu[ud] |= 0x7f;      /* after the 1-bit Key choice */
	pdu[ud + 11] |= 0x01; /* after the 8-bit conferenceName length */
	pdu[ud + 13] |= 0x7f; /* after terminationMethod */
	pdu[ud + 16] |= 0x3f; /* after the h221 key length */
	assert_int_equal(set_checked(pdu, n, 0, NULL, NULL), 1);
}

static void test_is_connect_response(void **state)
{
	(void)state;
	const uint8_t rsp[] = {0x03, 0x00, 0x00, 0x0c, 0x02, 0xf0,
	                       0x80, 0x7f, 0x66, 0x82, 0x01, 0x00};
	uint8_t t[16], ci[1024];
	for (size_t k = 0; k <= sizeof(rsp); k++) {
		uint8_t *d = dup_exact(rsp, k);
		assert_int_equal(mcs_is_connect_response(d, k), k >= 9);
		free(d);
	}
	static const size_t flip[] = {0, 3, 4, 5, 6, 7, 8};
	for (size_t i = 0; i < sizeof(flip) / sizeof(flip[0]); i++) {
		memcpy(t, rsp, sizeof(rsp));
		t[flip[i]] ^= flip[i] == 3 ? 0x0c : 0x01; /* TPKT length 0 */
		assert_int_equal(mcs_is_connect_response(t, sizeof(rsp)), 0);
	}
	size_t n = build_ci(ci, sizeof(ci), &seed_opts);
	assert_int_equal(mcs_is_connect_response(ci, n), 0);
	/* TPKT length 8: the tag would lie outside the TPKT. */
	memcpy(t, rsp, sizeof(rsp));
	t[3] = 8;
	assert_int_equal(mcs_is_connect_response(t, sizeof(rsp)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_seed_frame3_layout),
	    cmocka_unit_test(test_rewrite_changes_exactly_4_bytes),
	    cmocka_unit_test(test_rewrite_to_rdp),
	    cmocka_unit_test(test_long_form_ber_lengths),
	    cmocka_unit_test(test_two_octet_per_lengths),
	    cmocka_unit_test(test_core_lengths),
	    cmocka_unit_test(test_block_order_and_extra_elements),
	    cmocka_unit_test(test_per_padding_bits_ignored),
	    cmocka_unit_test(test_is_connect_response),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
