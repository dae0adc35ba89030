/* cmocka tests for mcs.h: a malformed Connect-Initial (built by
 * mcs_initial_fixture.c) is refused with a reason and left unchanged: block
 * rules, truncation at every length (BER and PER layers), every length
 * field corrupted, trailing bytes, and every byte mutated (no over-read, and
 * a rewrite only ever touches serverSelectedProtocol). Parses run on
 * exact-size heap copies (ASan). */
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

static void test_block_rules(void **state)
{
	(void)state;
	uint8_t pdu[1024];
	struct ci_opts o = seed_opts;

	o.no_core = true;
	expect_malformed("no TS_UD_CS_CORE", pdu, build_ci(pdu, sizeof(pdu), &o));
	o = seed_opts;
	o.dup_core = true;
	expect_malformed("two TS_UD_CS_CORE blocks", pdu, build_ci(pdu, sizeof(pdu), &o));
	o = seed_opts;
	o.h221_key = "McDn";
	expect_malformed("h221 key McDn instead of Duca", pdu, build_ci(pdu, sizeof(pdu), &o));
	o = seed_opts;
	o.second_duca = true;
	expect_malformed("two Duca elements", pdu, build_ci(pdu, sizeof(pdu), &o));
}

/* Truncate at every length: as given (TPKT length no longer matches) and with
 * TPKT length patched so that the inner lengths are what overrun. */
static void test_truncations(void **state)
{
	(void)state;
	uint8_t pdu[1024];
	size_t n = build_ci(pdu, sizeof(pdu), &seed_opts);
	for (size_t k = 0; k < n; k++) {
		uint8_t t[1024];
		const char *why = NULL;
		memcpy(t, pdu, k);
		assert_int_equal(set_checked(t, k, 0, NULL, &why), -1);
		if (k >= 4) {
			t[2] = (uint8_t)(k >> 8), t[3] = (uint8_t)k;
			why = NULL;
			if (set_checked(t, k, 0, NULL, &why) != -1)
				fail_msg("truncated to %zu with TPKT patched: not -1", k);
			assert_non_null(why);
		}
	}
}

/* connectPDU cut at every length, then the whole ConnectData: every
 * enclosing BER length agrees, so the PER decoder's own bounds must catch it. */
static void test_per_truncations(void **state)
{
	(void)state;
	uint8_t pdu[1024];
	size_t full = build_ci(pdu, sizeof(pdu), &seed_opts);
	size_t ccr_len = 14 + 330, gcc_len = 7 + 2 + ccr_len;
	for (size_t k = 0; k < ccr_len; k++) {
		struct ci_opts o = seed_opts;
		o.ccr_cut = k + 1;
		size_t n = build_ci(pdu, sizeof(pdu), &o);
		assert_true(n < full);
		const char *why = NULL;
		if (set_checked(pdu, n, 0, NULL, &why) != -1)
			fail_msg("connectPDU cut to %zu: not -1", k);
	}
	for (size_t k = 0; k < gcc_len; k++) {
		struct ci_opts o = seed_opts;
		o.gcc_cut = k + 1;
		size_t n = build_ci(pdu, sizeof(pdu), &o);
		const char *why = NULL;
		if (set_checked(pdu, n, 0, NULL, &why) != -1)
			fail_msg("ConnectData cut to %zu: not -1", k);
	}
	struct ci_opts o = seed_opts;
	o.ccr_cut = ccr_len + 1; /* the full length: still valid */
	assert_int_equal(build_ci(pdu, sizeof(pdu), &o), full);
	assert_int_equal(set_checked(pdu, full, 0, NULL, NULL), 1);
}

static void test_corrupted_lengths(void **state)
{
	(void)state;
	uint8_t pdu[1024];
	struct mcs_connect_initial ci;
	size_t n = build_ci(pdu, sizeof(pdu), &seed_opts);
	assert_int_equal(mcs_parse_connect_initial(pdu, n, &ci, NULL), 1);
	size_t ud = ci.user_data_off, blk = ci.blocks_off;
	/* Known positions (test_seed_frame3_layout checks the layout). */
	assert_int_equal(pdu[ud - 4], 0x04);  /* userData: 04 82 01 61 */
	assert_int_equal(pdu[ud + 7], 0x81);  /* connectPDU length 81 58 */
	assert_int_equal(pdu[blk - 2], 0x81); /* Duca value length 81 4a */
	static const struct {
		const char *name;
		long where;    /* >= 0: from pdu start; < 0: see below */
		uint8_t delta; /* added to the byte */
	} c[] = {
	    {"TPKT length +1", 3, 1},
	    {"X.224 DT LI 3", 4, 1},
	    {"X.224 DT code", 5, 0x10},
	    {"X.224 DT EOT clear", 6, 0x80},
	    {"tag 7F 66 (Connect-Response)", 8, 1},
	    {"Connect-Initial length +1", 11, 1},
	    {"Connect-Initial length -1", 11, 0xff},
	    {"Connect-Initial length indefinite", 9, 0xfe}, /* 0x82 -> 0x80 */
	    {"Connect-Initial length 5 octets", 9, 3},      /* 0x82 -> 0x85 */
	    {"callingDomainSelector tag", 12, 1},
	    {"callingDomainSelector length 2", 13, 1},
	    {"upwardFlag length 2", 19, 1},
	    {"targetParameters tag", 21, 1},
	    {"targetParameters length +1", 22, 1},
	    {"targetParameters length -1", 22, 0xff},
	    {"DomainParameters INTEGER tag", 23, 1},
	    {"DomainParameters INTEGER length 0", 24, 0xff},
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		uint8_t t[1024];
		memcpy(t, pdu, n);
		t[c[i].where] = (uint8_t)(t[c[i].where] + c[i].delta);
		expect_malformed(c[i].name, t, n);
	}
	/* Offsets from the userData contents (see gcc_head in
	 * test_seed_frame3_layout): ud+0 key choice, +1 OID length, +2..6 OID,
	 * +7..8 connectPDU length, +9 choice/ext/presence bits, +10 presence and
	 * ConferenceName bits, +11 name length, +12 digit, BOOLEANs and
	 * terminationMethod extension bit, +13 terminationMethod, +14 set count,
	 * +15 element bits and h221 length bits 7..2, +16 length bits 1..0 and
	 * padding, +17..20 "Duca", +21..22 value length. */
	static const struct {
		const char *name;
		long off;
		uint8_t delta;
	} d[] = {
	    {"userData length +1", -1, 1},
	    {"userData length -1", -1, 0xff},
	    {"t124Identifier key choice", 0, 0x80},
	    {"OID length 6", 1, 1},
	    {"OID last arc", 6, 1},
	    {"connectPDU length +1", 8, 1},
	    {"connectPDU length -1", 8, 0xff},
	    {"connectPDU length 11xxxxxx", 7, 0x40},
	    {"ConnectGCCPDU choice 1", 9, 0x10},
	    {"ConnectGCCPDU extension", 9, 0x80},
	    {"CCR password present", 9, 0x02},
	    {"CCR callerIdentifier present", 10, 0x10},
	    {"CCR without userData", 10, 0xf8},
	    {"conferenceName extension", 10, 0x04},
	    {"conferenceName text present", 10, 0x02},
	    {"conferenceName length 129", 10, 0x01},
	    {"conferenceName digit 10", 12, 0x90},
	    {"terminationMethod extension", 12, 0x01},
	    {"userData set count 0", 14, 0xff},
	    {"userData set count 2", 14, 1},
	    {"userData set count 11xxxxxx", 14, 0xc0},
	    {"h221 key length 5", 16, 0x40}, /* bit 9 of the element: the field's LSB */
	    {"Duca value length +1", 22, 1},
	    {"Duca value length -1", 22, 0xff},
	};
	for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		uint8_t t[1024];
		memcpy(t, pdu, n);
		size_t at = (size_t)((long)ud + d[i].off);
		t[at] = (uint8_t)(t[at] + d[i].delta);
		expect_malformed(d[i].name, t, n);
	}
	static const struct {
		const char *name;
		size_t off; /* from the blocks start */
		uint16_t len;
	} b[] = {
	    {"core block length 3", 2, 3},
	    {"core block length 0", 2, 0},
	    {"core block length past end", 2, 331},
	    {"cluster block length +1", 234 + 2, 13},
	    {"last block length +1", 330 - 8 + 2, 9},
	    {"last block length -1 (3 bytes left)", 330 - 8 + 2, 5},
	};
	for (size_t i = 0; i < sizeof(b) / sizeof(b[0]); i++) {
		uint8_t t[1024];
		memcpy(t, pdu, n);
		t[blk + b[i].off] = (uint8_t)b[i].len;
		t[blk + b[i].off + 1] = (uint8_t)(b[i].len >> 8);
		expect_malformed(b[i].name, t, n);
	}
}

/* A trailing byte after the Connect-Initial inside the TPKT, and one after
 * the TPKT. */
static void test_trailing_bytes(void **state)
{
	(void)state;
	uint8_t pdu[1024];
	size_t n = build_ci(pdu, sizeof(pdu), &seed_opts);
	pdu[n] = 0;
	expect_malformed("byte after the TPKT", pdu, n + 1);
	pdu[3] = (uint8_t)(n + 1);
	expect_malformed("byte after Connect-Initial in the TPKT", pdu, n + 1);
}

/* Every byte disturbed several ways: no crash, no over-read, and changes only
 * ever land in serverSelectedProtocol (set_checked). */
static void test_mutations(void **state)
{
	(void)state;
	static const uint8_t masks[] = {0x01, 0x02, 0x04, 0x40, 0x80, 0xff};
	uint8_t pdu[1024];
	struct ci_opts o = seed_opts;
	o.extra_set_element = true;
	size_t n = build_ci(pdu, sizeof(pdu), &o);
	size_t ok = 0;
	for (size_t pos = 0; pos < n; pos++)
		for (size_t m = 0; m < sizeof(masks); m++) {
			uint8_t t[1024];
			const char *why = NULL;
			memcpy(t, pdu, n);
			t[pos] ^= masks[m];
			int r = set_checked(t, n, 0x55aa55aa, NULL, &why);
			assert_true(r >= -1 && r <= 1);
			ok += r == 1;
		}
	assert_true(ok > 0); /* e.g. flips inside block bodies stay valid */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_block_rules),     cmocka_unit_test(test_truncations),
	    cmocka_unit_test(test_per_truncations), cmocka_unit_test(test_corrupted_lengths),
	    cmocka_unit_test(test_trailing_bytes),  cmocka_unit_test(test_mutations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
