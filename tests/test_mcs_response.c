/* cmocka tests for mcs_parse_connect_response (mcs.h): the server's MCS
 * Connect-Response (T.125 BER, T.124 ALIGNED PER ConferenceCreateResponse,
 * server data blocks, MS-RDPBCGR 2.2.1.4). Three captured answers of real
 * servers, then responses assembled here field by field, their truncations
 * and mutations. Every parse runs on an exact-size heap copy (ASan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mcs.h"
#include "rdp_bytes.h"
#include "tools/connect_response.h"

/* The captures. FreeRDP 2.11.7 freerdp-shadow-cli's answer to a loopback
 * peer is test_connect_response (tools/connect_response.h), the one the test
 * servers send. */
/* xrdp 0.9.21.1, security_layer=tls, inside TLS: SC_CORE (12 bytes),
 * SC_NET, SC_SECURITY NONE/NONE; McDn length in the two-octet PER form. */
static const uint8_t xrdp_tls[109] = {
    0x03, 0x00, 0x00, 0x6d, 0x02, 0xf0, 0x80, 0x7f, 0x66, 0x63, 0x0a, 0x01, 0x00, 0x02, 0x01, 0x00,
    0x30, 0x1a, 0x02, 0x01, 0x16, 0x02, 0x01, 0x03, 0x02, 0x01, 0x00, 0x02, 0x01, 0x01, 0x02, 0x01,
    0x00, 0x02, 0x01, 0x01, 0x02, 0x03, 0x00, 0xff, 0xf8, 0x02, 0x01, 0x02, 0x04, 0x3f, 0x00, 0x05,
    0x00, 0x14, 0x7c, 0x00, 0x01, 0x2a, 0x14, 0x76, 0x0a, 0x01, 0x01, 0x00, 0x01, 0xc0, 0x00, 0x4d,
    0x63, 0x44, 0x6e, 0x80, 0x28, 0x01, 0x0c, 0x0c, 0x00, 0x04, 0x00, 0x08, 0x00, 0x01, 0x00, 0x00,
    0x00, 0x03, 0x0c, 0x10, 0x00, 0xeb, 0x03, 0x04, 0x00, 0xec, 0x03, 0xed, 0x03, 0xee, 0x03, 0xef,
    0x03, 0x02, 0x0c, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};
/* xrdp 0.9.21.1, security_layer=rdp, crypt_level=high: SC_SECURITY
 * 128BIT/HIGH with a 32-byte server random and a 376-byte proprietary
 * certificate; 529 bytes. */
static const uint8_t xrdp_rdp_high[529] = {
    0x03, 0x00, 0x02, 0x11, 0x02, 0xf0, 0x80, 0x7f, 0x66, 0x82, 0x02, 0x05, 0x0a, 0x01, 0x00, 0x02,
    0x01, 0x00, 0x30, 0x1a, 0x02, 0x01, 0x16, 0x02, 0x01, 0x03, 0x02, 0x01, 0x00, 0x02, 0x01, 0x01,
    0x02, 0x01, 0x00, 0x02, 0x01, 0x01, 0x02, 0x03, 0x00, 0xff, 0xf8, 0x02, 0x01, 0x02, 0x04, 0x82,
    0x01, 0xdf, 0x00, 0x05, 0x00, 0x14, 0x7c, 0x00, 0x01, 0x2a, 0x14, 0x76, 0x0a, 0x01, 0x01, 0x00,
    0x01, 0xc0, 0x00, 0x4d, 0x63, 0x44, 0x6e, 0x81, 0xc8, 0x01, 0x0c, 0x0c, 0x00, 0x04, 0x00, 0x08,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x0c, 0x10, 0x00, 0xeb, 0x03, 0x04, 0x00, 0xec, 0x03, 0xed,
    0x03, 0xee, 0x03, 0xef, 0x03, 0x02, 0x0c, 0xac, 0x01, 0x02, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00,
    0x00, 0x20, 0x00, 0x00, 0x00, 0x78, 0x01, 0x00, 0x00, 0x3e, 0xb6, 0x88, 0xbe, 0x07, 0x6b, 0xc3,
    0x61, 0x21, 0x63, 0x13, 0xa9, 0xcc, 0x7a, 0x74, 0x22, 0x46, 0xa2, 0xe2, 0x42, 0xaa, 0x65, 0x59,
    0x10, 0x54, 0x3e, 0xe3, 0x0d, 0xe7, 0x1f, 0x5e, 0x0a, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
    0x00, 0x01, 0x00, 0x00, 0x00, 0x06, 0x00, 0x1c, 0x01, 0x52, 0x53, 0x41, 0x31, 0x08, 0x01, 0x00,
    0x00, 0x00, 0x08, 0x00, 0x00, 0xff, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x1f, 0xbc, 0x40,
    0xad, 0x16, 0xf3, 0xb8, 0x42, 0xda, 0x41, 0xe9, 0x34, 0x4c, 0x01, 0x4a, 0x13, 0x1e, 0x76, 0x12,
    0x36, 0x6d, 0x0d, 0x68, 0xd0, 0x26, 0x01, 0xca, 0x13, 0x66, 0x4b, 0x64, 0xf9, 0xd9, 0x26, 0x82,
    0x65, 0xb6, 0x09, 0xc0, 0x9d, 0x2b, 0xc5, 0xda, 0xc8, 0xc5, 0xf7, 0xd2, 0xd5, 0x2a, 0x42, 0xd9,
    0xb3, 0x65, 0x5c, 0x06, 0xb0, 0x86, 0xc0, 0x3f, 0xf5, 0x40, 0x6a, 0xc7, 0xff, 0xc7, 0x6f, 0x72,
    0xdf, 0xe5, 0xf6, 0x0e, 0x74, 0x20, 0x6b, 0x79, 0x25, 0xa3, 0x72, 0xa8, 0x14, 0x5a, 0x23, 0x50,
    0x0c, 0xda, 0xda, 0x76, 0x8c, 0xb8, 0xec, 0x6a, 0x11, 0xae, 0xe9, 0x11, 0x92, 0x64, 0x5c, 0x2e,
    0xd8, 0x96, 0x5e, 0xfd, 0xda, 0x10, 0xb3, 0xc2, 0x65, 0xda, 0x62, 0x7b, 0xac, 0x65, 0x2e, 0xcc,
    0xe9, 0x4c, 0x0a, 0xe1, 0xc2, 0x95, 0xc9, 0x07, 0xec, 0x42, 0xd3, 0xf1, 0xd7, 0x8b, 0xba, 0x19,
    0x81, 0x06, 0xdb, 0x15, 0xa0, 0xbd, 0x1a, 0xfd, 0x46, 0xa9, 0x10, 0x72, 0xc9, 0x3d, 0x85, 0x18,
    0xc4, 0xe4, 0x02, 0x98, 0x4f, 0x26, 0x64, 0x15, 0x99, 0x7f, 0x75, 0xd6, 0xf2, 0x58, 0x54, 0xf0,
    0x23, 0x2d, 0x29, 0xfb, 0x0a, 0x1e, 0xb0, 0x17, 0xa4, 0x89, 0x62, 0x47, 0x0b, 0x8c, 0x6d, 0x26,
    0x2a, 0x17, 0xc8, 0x1e, 0x10, 0x9a, 0xc5, 0x1c, 0xea, 0xb4, 0x88, 0x8c, 0x42, 0x4d, 0xa3, 0x00,
    0x44, 0x6e, 0x3a, 0xff, 0x8a, 0xa8, 0xc2, 0x48, 0xbe, 0xeb, 0x06, 0x29, 0x2e, 0xc8, 0xaf, 0x24,
    0x4e, 0x4e, 0x96, 0xdf, 0xb5, 0x2c, 0x09, 0x18, 0xcf, 0x6d, 0x0f, 0xa7, 0x76, 0xfe, 0xe5, 0x1e,
    0xbe, 0x8d, 0x90, 0xa0, 0x78, 0xfc, 0x83, 0x78, 0xea, 0xed, 0xb0, 0x1e, 0xec, 0xbd, 0x14, 0xc7,
    0x4a, 0x4e, 0x8a, 0x22, 0x62, 0x9b, 0x95, 0xd3, 0x39, 0xb1, 0x30, 0x3a, 0xeb, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x48, 0x00, 0x75, 0x06, 0x1f, 0xdf, 0x19, 0x72, 0x8d,
    0x1c, 0x68, 0xd7, 0x60, 0x50, 0xe2, 0x1a, 0x15, 0x8c, 0xa0, 0x7e, 0x58, 0x86, 0x4c, 0x6a, 0x66,
    0x8b, 0x89, 0xfe, 0x7e, 0x91, 0xae, 0x60, 0x3d, 0x83, 0x5c, 0x52, 0x1c, 0xb6, 0x0a, 0x79, 0x27,
    0x7d, 0xc9, 0x81, 0xe1, 0x20, 0x91, 0x88, 0x61, 0xd1, 0xac, 0xb9, 0x0c, 0x17, 0x76, 0x5c, 0x41,
    0xbe, 0x97, 0x98, 0x52, 0x6a, 0x7c, 0xb6, 0x8c, 0x0b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00,
};

struct resp_opts {
	unsigned result;     /* T.125 Result */
	unsigned gcc_result; /* ConferenceCreateResponse result */
	bool gcc_no_user_data;
	const char *key; /* h221 key, default "McDn" */
	bool extra_element, second_mcdn;
	bool no_core, dup_core, short_core;
	bool no_sec, dup_sec;
	size_t sec_len; /* 0: what the fields need */
	uint32_t method, level;
	uint32_t rand_len, cert_len; /* declared */
	size_t rand_have, cert_have; /* present */
	unsigned connect_pdu_len;    /* the length T.124 readers must ignore */
	bool gcc_trailing, ber_trailing, block_overrun;
};

static const struct resp_opts plain = {.connect_pdu_len = 0x2a};

static void put_blocks(struct buf *b, const struct resp_opts *o)
{
	for (int k = 0; k < (o->no_core ? 0 : o->dup_core ? 2 : 1); k++) {
		put16le(b, MCS_SC_CORE);
		put16le(b, o->short_core ? 6 : 12);
		if (o->short_core) {
			put16le(b, 4);
		} else {
			put32le(b, 0x00080004);
			put32le(b, 0);
		}
	}
	put16le(b, MCS_SC_NET);
	put16le(b, 8);
	put16le(b, 1003);
	put16le(b, 0);
	for (int k = 0; k < (o->no_sec ? 0 : o->dup_sec ? 2 : 1); k++) {
		bool enc = o->method || o->level;
		size_t need = enc ? 20 + o->rand_have + o->cert_have : 12;
		size_t len = o->sec_len ? o->sec_len : need;
		size_t start = b->n;
		put16le(b, MCS_SC_SECURITY);
		put16le(b, (unsigned)len);
		put32le(b, o->method);
		put32le(b, o->level);
		if (enc) {
			put32le(b, o->rand_len);
			put32le(b, o->cert_len);
			for (size_t i = 0; i < o->rand_have + o->cert_have; i++)
				put8(b, 0xa0 + (unsigned)(i & 15));
		}
		while (b->n - start < len)
			put8(b, 0);
		b->n = start + len; /* a short sec_len cuts the fields */
	}
	if (o->block_overrun) {
		put16le(b, 0x0C04);
		put16le(b, 200); /* more than what follows */
		put16le(b, 1004);
	}
}

static void put_element(struct buf *g, const char *key, const struct buf *value)
{
	put8(g, 0xc0); /* value present, key h221NonStandard */
	put8(g, 0x00); /* length - 4 = 0 */
	put(g, key, 4);
	put_per_len(g, value->n, false);
	put(g, value->d, value->n);
}

static void put_gcc(struct buf *g, const struct resp_opts *o)
{
	static const uint8_t key_oid[] = {0x00, 0x05, 0x00, 0x14, 0x7c, 0x00, 0x01};
	struct buf blocks = {.n = 0}, empty = {.n = 0};
	unsigned count = 1 + (o->extra_element ? 1 : 0) + (o->second_mcdn ? 1 : 0);

	put_blocks(&blocks, o);
	put(g, key_oid, sizeof(key_oid));
	put8(g, o->connect_pdu_len);
	/* ConnectGCCPDU ext 0, choice 1; CCR ext 0, userData present; pad. */
	put8(g, o->gcc_no_user_data ? 0x10 : 0x14);
	put8(g, 0x76); /* nodeID */
	put8(g, 0x0a);
	put8(g, 0x01); /* tag: length 1, value 1 */
	put8(g, 0x01);
	put8(g, (o->gcc_result & 7) << 4); /* result: ext 0, 3 bits, pad */
	if (o->gcc_no_user_data)
		return;
	put8(g, count);
	if (o->extra_element) {
		put8(g, 0x80); /* value present, key object */
		put8(g, 0x02);
		put8(g, 0x2a);
		put8(g, 0x03);
		put_per_len(g, 2, false);
		put(g, "hi", 2);
	}
	put_element(g, o->key ? o->key : "McDn", &blocks);
	if (o->second_mcdn)
		put_element(g, "McDn", &empty);
	if (o->gcc_trailing)
		put8(g, 0x00);
}

static size_t build(uint8_t *out, size_t cap, const struct resp_opts *o)
{
	static const uint8_t domain[] = {0x02, 0x01, 0x22, 0x02, 0x01, 0x03, 0x02, 0x01, 0x00,
	                                 0x02, 0x01, 0x01, 0x02, 0x01, 0x00, 0x02, 0x01, 0x01,
	                                 0x02, 0x03, 0x00, 0xff, 0xf8, 0x02, 0x01, 0x02};
	static const uint8_t t_seq = 0x30, t_os = 0x04, t_resp[2] = {0x7f, 0x66};
	struct buf gcc = {.n = 0}, seq = {.n = 0}, body = {.n = 0}, pdu = {.n = 0};

	put_gcc(&gcc, o);
	put8(&body, 0x0a);
	put8(&body, 0x01);
	put8(&body, o->result);
	put8(&body, 0x02);
	put8(&body, 0x01);
	put8(&body, 0x00);
	put(&seq, domain, sizeof(domain));
	put_ber_tlv(&body, &t_seq, 1, &seq, 0);
	put_ber_tlv(&body, &t_os, 1, &gcc, 0);
	if (o->ber_trailing)
		put8(&body, 0x00);
	put8(&pdu, 0x03);
	put8(&pdu, 0x00);
	put8(&pdu, 0x00);
	put8(&pdu, 0x00);
	put8(&pdu, 0x02);
	put8(&pdu, 0xf0);
	put8(&pdu, 0x80);
	put_ber_tlv(&pdu, t_resp, 2, &body, 0);
	pdu.d[2] = (uint8_t)(pdu.n >> 8);
	pdu.d[3] = (uint8_t)pdu.n;
	assert_true(pdu.n <= cap);
	memcpy(out, pdu.d, pdu.n);
	return pdu.n;
}

/* ---- helpers ---- */

static int parse_exact(const uint8_t *pdu, size_t n, struct mcs_connect_response *r,
                       const char **why)
{
	uint8_t *d = dup_exact(pdu, n);
	int rc = mcs_parse_connect_response(d, n, r, why);
	assert_memory_equal(d, pdu, n); /* the parser only reads */
	free(d);
	if (rc == 1) {
		assert_true(r->blocks_off + r->blocks_len <= n);
		assert_true(r->result != 0 || r->has_security);
	} else {
		assert_int_equal(rc, -1);
		assert_non_null(why);
		assert_non_null(*why);
		assert_true(**why != '\0');
	}
	return rc;
}

static void expect_malformed(const char *name, const struct resp_opts *o, const char *reason)
{
	uint8_t pdu[4096];
	struct mcs_connect_response r;
	const char *why = NULL;
	size_t n = build(pdu, sizeof(pdu), o);

	if (parse_exact(pdu, n, &r, &why) != -1)
		fail_msg("%s: parsed, expected malformed", name);
	if (!strstr(why, reason))
		fail_msg("%s: reason \"%s\" does not contain \"%s\"", name, why, reason);
	print_message("  %-32s -> %s\n", name, why);
}

/* ---- tests ---- */

static void test_captured_shadow(void **state)
{
	struct mcs_connect_response r;
	const char *why = NULL;

	(void)state;
	assert_int_equal(
	    parse_exact(test_connect_response, sizeof(test_connect_response), &r, &why), 1);
	assert_int_equal(r.result, 0);
	assert_int_equal(r.block_count, 4);
	assert_true(r.has_core);
	assert_int_equal(r.version, 0x0008000c);
	assert_true(r.has_security);
	assert_int_equal(r.encryption_method, MCS_ENCRYPTION_METHOD_NONE);
	assert_int_equal(r.encryption_level, MCS_ENCRYPTION_LEVEL_NONE);
	assert_int_equal(r.server_random_len, 0);
	assert_int_equal(r.blocks_off + r.blocks_len, sizeof(test_connect_response));
	assert_int_equal(r.blocks_len, 0x32);
	assert_int_equal(
	    mcs_is_connect_response(test_connect_response, sizeof(test_connect_response)), 1);
}

static void test_captured_xrdp_tls(void **state)
{
	struct mcs_connect_response r;
	const char *why = NULL;

	(void)state;
	assert_int_equal(parse_exact(xrdp_tls, sizeof(xrdp_tls), &r, &why), 1);
	assert_int_equal(r.block_count, 3);
	assert_int_equal(r.version, 0x00080004);
	assert_int_equal(r.encryption_method, 0);
	assert_int_equal(r.encryption_level, 0);
	assert_int_equal(r.blocks_len, 40);
}

static void test_captured_xrdp_encrypting(void **state)
{
	struct mcs_connect_response r;
	const char *why = NULL;

	(void)state;
	assert_int_equal(parse_exact(xrdp_rdp_high, sizeof(xrdp_rdp_high), &r, &why), 1);
	assert_int_equal(r.encryption_method, MCS_ENCRYPTION_METHOD_128BIT);
	assert_int_equal(r.encryption_level, MCS_ENCRYPTION_LEVEL_HIGH);
	assert_int_equal(r.server_random_len, 32);
	assert_int_equal(r.server_cert_len, 0x178);
	assert_string_equal(mcs_encryption_method_name(r.encryption_method), "128BIT");
	assert_string_equal(mcs_encryption_level_name(r.encryption_level), "HIGH");
}

static void test_built_matches_shape(void **state)
{
	uint8_t pdu[4096];
	struct mcs_connect_response r;
	const char *why = NULL;
	struct resp_opts o = plain;
	size_t n;

	(void)state;
	n = build(pdu, sizeof(pdu), &o);
	assert_int_equal(parse_exact(pdu, n, &r, &why), 1);
	assert_int_equal(r.block_count, 3);
	assert_int_equal(r.encryption_method, 0);
	/* Encrypting, with random and certificate exactly filling the block. */
	o.method = MCS_ENCRYPTION_METHOD_40BIT;
	o.level = MCS_ENCRYPTION_LEVEL_CLIENT_COMPATIBLE;
	o.rand_len = o.rand_have = 32;
	o.cert_len = o.cert_have = 100;
	n = build(pdu, sizeof(pdu), &o);
	assert_int_equal(parse_exact(pdu, n, &r, &why), 1);
	assert_int_equal(r.encryption_method, 1);
	assert_int_equal(r.encryption_level, 2);
	assert_int_equal(r.server_cert_len, 100);
	/* Level without method, and FIPS: both still "encrypting" fields. */
	o = plain;
	o.level = MCS_ENCRYPTION_LEVEL_FIPS;
	o.method = MCS_ENCRYPTION_METHOD_FIPS;
	n = build(pdu, sizeof(pdu), &o);
	assert_int_equal(parse_exact(pdu, n, &r, &why), 1);
	assert_string_equal(mcs_encryption_level_name(r.encryption_level), "FIPS");
	assert_string_equal(mcs_encryption_method_name(r.encryption_method), "FIPS");
	assert_string_equal(mcs_encryption_method_name(0x40), "UNKNOWN");
	assert_string_equal(mcs_encryption_level_name(5), "UNKNOWN");
}

static void test_connect_pdu_length_ignored(void **state)
{
	uint8_t pdu[4096];
	struct mcs_connect_response r;
	const char *why = NULL;
	static const unsigned lens[] = {0x00, 0x01, 0x2a, 0x7f};

	(void)state;
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		struct resp_opts o = plain;
		o.connect_pdu_len = lens[i];
		size_t n = build(pdu, sizeof(pdu), &o);
		assert_int_equal(parse_exact(pdu, n, &r, &why), 1);
	}
	/* The fragmented form (11xxxxxx) is refused. */
	struct resp_opts o = plain;
	o.connect_pdu_len = 0xc1;
	size_t n = build(pdu, sizeof(pdu), &o);
	assert_int_equal(parse_exact(pdu, n, &r, &why), -1);
}

static void test_refused_result(void **state)
{
	uint8_t pdu[4096];
	struct mcs_connect_response r;
	const char *why = NULL;
	struct resp_opts o = plain;

	(void)state;
	o.result = 14;   /* rt-unspecified-failure */
	o.no_sec = true; /* not examined when refused */
	size_t n = build(pdu, sizeof(pdu), &o);
	assert_int_equal(parse_exact(pdu, n, &r, &why), 1);
	assert_int_equal(r.result, 14);
	assert_false(r.has_security);
}

static void test_extra_elements(void **state)
{
	uint8_t pdu[4096];
	struct mcs_connect_response r;
	const char *why = NULL;
	struct resp_opts o = plain;

	(void)state;
	o.extra_element = true;
	size_t n = build(pdu, sizeof(pdu), &o);
	assert_int_equal(parse_exact(pdu, n, &r, &why), 1);
	assert_int_equal(r.block_count, 3);
}

static void test_malformed(void **state)
{
	struct resp_opts o;

	(void)state;
#define CASE(field_set, reason)                                                                    \
	do {                                                                                       \
		o = plain;                                                                         \
		field_set;                                                                         \
		expect_malformed(#field_set, &o, reason);                                          \
	} while (0)
	CASE(o.gcc_result = 1, "result is not success");
	CASE(o.gcc_no_user_data = true, "without userData");
	CASE(o.key = "Duca", "no h221NonStandard \"McDn\"");
	CASE(o.second_mcdn = true, "more than one \"McDn\"");
	CASE(o.no_sec = true, "no TS_UD_SC_SEC1");
	CASE(o.dup_sec = true, "more than one TS_UD_SC_SEC1");
	CASE(o.dup_core = true, "more than one TS_UD_SC_CORE");
	CASE(o.short_core = true, "TS_UD_SC_CORE shorter than 8");
	CASE(o.sec_len = 8, "TS_UD_SC_SEC1 shorter than 12");
	CASE((o.method = 2, o.level = 3, o.sec_len = 12), "without serverRandomLen");
	CASE((o.method = 2, o.level = 3, o.rand_len = 33, o.rand_have = 32), "exceed the block");
	CASE(
	    (o.method = 2, o.level = 3, o.rand_len = 32, o.rand_have = 32, o.cert_len = 0xffffffff),
	    "exceed the block");
	CASE((o.method = 2, o.level = 3, o.rand_len = 0xfffffff0, o.cert_len = 0x20),
	     "exceed the block");
	CASE(o.block_overrun = true, "exceeds the GCC user data");
	CASE(o.gcc_trailing = true, "bytes after ConferenceCreateResponse");
	CASE(o.ber_trailing = true, "bytes after userData");
#undef CASE
}

static void test_not_a_response(void **state)
{
	struct mcs_connect_response r;
	const char *why = NULL;
	/* xrdp's Disconnect-Provider-Ultimatum to a plaintext Connect-Initial
	 * after it selected TLS (tests/fixtures/README.md). */
	static const uint8_t dpum[] = {0x03, 0x00, 0x00, 0x09, 0x02, 0xf0, 0x80, 0x21, 0x80};
	uint8_t t[sizeof(test_connect_response)];

	(void)state;
	assert_int_equal(parse_exact(dpum, sizeof(dpum), &r, &why), -1);
	/* The Connect-Initial's tag. */
	memcpy(t, test_connect_response, sizeof(t));
	t[8] = 0x65;
	assert_int_equal(parse_exact(t, sizeof(t), &r, &why), -1);
	/* Not exactly one TPKT. */
	assert_int_equal(
	    parse_exact(test_connect_response, sizeof(test_connect_response) - 1, &r, &why), -1);
	memcpy(t, test_connect_response, sizeof(t));
	t[6] = 0x00; /* no EOT */
	assert_int_equal(parse_exact(t, sizeof(t), &r, &why), -1);
}

/* Every cut of each capture, reframed so the TPKT length matches: no read
 * past the end (ASan), and only the full one parses. */
static void truncations_of(const uint8_t *pdu, size_t n)
{
	struct mcs_connect_response r;

	for (size_t k = 0; k < n; k++) {
		uint8_t *d = dup_exact(pdu, k);
		const char *why = NULL;
		if (k >= 4) {
			d[2] = (uint8_t)(k >> 8);
			d[3] = (uint8_t)k;
		}
		assert_int_equal(mcs_parse_connect_response(d, k, &r, &why), -1);
		assert_non_null(why);
		free(d);
	}
}

static void test_truncations(void **state)
{
	(void)state;
	truncations_of(test_connect_response, sizeof(test_connect_response));
	truncations_of(xrdp_tls, sizeof(xrdp_tls));
	truncations_of(xrdp_rdp_high, sizeof(xrdp_rdp_high));
}

/* Every byte of each capture set to a few values: the parser answers 1 or -1
 * with a reason, and a success stays inside the buffer (checked in
 * parse_exact). */
static void mutations_of(const uint8_t *pdu, size_t n)
{
	static const uint8_t vals[] = {0x00, 0x01, 0x7f, 0x80, 0x81, 0x82, 0xff};
	uint8_t *d = malloc(n);
	unsigned ok = 0, bad = 0;

	assert_non_null(d);
	for (size_t i = 0; i < n; i++) {
		for (size_t v = 0; v < sizeof(vals); v++) {
			struct mcs_connect_response r;
			const char *why = NULL;
			memcpy(d, pdu, n);
			d[i] = vals[v];
			if (parse_exact(d, n, &r, &why) == 1)
				ok++;
			else
				bad++;
		}
	}
	free(d);
	assert_true(ok > 0 && bad > 0);
}

static void test_mutations(void **state)
{
	(void)state;
	mutations_of(test_connect_response, sizeof(test_connect_response));
	mutations_of(xrdp_tls, sizeof(xrdp_tls));
	mutations_of(xrdp_rdp_high, sizeof(xrdp_rdp_high));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_captured_shadow),
	    cmocka_unit_test(test_captured_xrdp_tls),
	    cmocka_unit_test(test_captured_xrdp_encrypting),
	    cmocka_unit_test(test_built_matches_shape),
	    cmocka_unit_test(test_connect_pdu_length_ignored),
	    cmocka_unit_test(test_refused_result),
	    cmocka_unit_test(test_extra_elements),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_not_a_response),
	    cmocka_unit_test(test_truncations),
	    cmocka_unit_test(test_mutations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
