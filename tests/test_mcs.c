/* cmocka tests for mcs.h. The Connect-Initial under test is assembled here
 * field by field with BER (T.125) and ALIGNED PER (T.124) encodings; its
 * default form reproduces the seed's frame 3 (protocol.md §8): a 462-byte
 * TPKT with clientCoreData (234), clientClusterData, clientSecurityData,
 * clientNetworkData (4 channels), clientMsgChannelData and
 * clientMultiTransportData. Parses run on exact-size heap copies (ASan). */
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

/* ---- byte builder ---- */

struct buf {
	uint8_t d[8192];
	size_t n;
};

static void put(struct buf *b, const void *p, size_t n)
{
	assert_true(b->n + n <= sizeof(b->d));
	memcpy(b->d + b->n, p, n);
	b->n += n;
}

static void put8(struct buf *b, unsigned v)
{
	uint8_t x = (uint8_t)v;
	put(b, &x, 1);
}

static void put16le(struct buf *b, unsigned v)
{
	put8(b, v & 0xff);
	put8(b, (v >> 8) & 0xff);
}

static void put32le(struct buf *b, uint32_t v)
{
	put16le(b, v & 0xffff);
	put16le(b, v >> 16);
}

/* UTF-16LE string in a fixed field of `bytes` bytes, zero padded. */
static void put_utf16(struct buf *b, const char *s, size_t bytes)
{
	size_t i = 0;
	for (; s[i] && 2 * i + 2 <= bytes; i++)
		put16le(b, (unsigned char)s[i]);
	for (size_t k = 2 * i; k < bytes; k++)
		put8(b, 0);
}

/* ---- builder options ---- */

struct ci_opts {
	size_t core_len;         /* TS_UD_CS_CORE length (header included) */
	uint32_t ssp;            /* its serverSelectedProtocol */
	unsigned ber_len_octets; /* 0: shortest form; 1..4: always long form */
	bool per_len_two_octets; /* 10xxxxxx xxxxxxxx even below 128 (rdesktop) */
	bool core_last;          /* core block after the others */
	bool no_core, dup_core;
	bool extra_set_element; /* an OID-keyed user data element before "Duca" */
	bool second_duca;       /* a second "Duca" element (empty value) after it */
	const char *h221_key;   /* default "Duca" */
	/* Cut connectPDU / the whole ConnectData to this many bytes (0 = no
	 * cut; the value is the length + 1), keeping every enclosing length
	 * consistent, so only the PER layer can notice. */
	size_t ccr_cut, gcc_cut;
};

static const struct ci_opts seed_opts = {.core_len = 234, .ssp = 1};

/* clientCoreData as in the seed; fields beyond core_len are cut off. */
static void put_core(struct buf *out, size_t core_len, uint32_t ssp)
{
	struct buf c = {.n = 0};
	put16le(&c, 0xC001);
	put16le(&c, 0);          /* length, set below */
	put32le(&c, 0x00080010); /* version: major 16, minor 8 as Wireshark shows it */
	put16le(&c, 1280);
	put16le(&c, 960);
	put16le(&c, 0xCA01); /* colorDepth RNS_UD_COLOR_8BPP */
	put16le(&c, 0xAA03); /* SASSequence 43523 */
	put32le(&c, 0x0804); /* keyboardLayout 2052 */
	put32le(&c, 22621);  /* clientBuild */
	put_utf16(&c, "MOURI-LAPTOP-1", 32);
	put32le(&c, 4); /* keyboardType IBM enhanced */
	put32le(&c, 0);
	put32le(&c, 12);
	put_utf16(&c, "", 64); /* imeFileName */
	put16le(&c, 0xCA01);   /* postBeta2ColorDepth */
	put16le(&c, 1);        /* clientProductId */
	put32le(&c, 0);        /* serialNumber */
	put16le(&c, 24);       /* highColorDepth */
	put16le(&c, 0x000f);   /* supportedColorDepths */
	put16le(&c, 0x0FBF);   /* earlyCapabilityFlags 4031 */
	put_utf16(&c, "7cdbcf8d-6664-4ca3-8816-28a9e1b", 64);
	put8(&c, 7); /* connectionType auto-detect */
	put8(&c, 0); /* pad1octet */
	assert_int_equal(c.n, MCS_CORE_SSP_OFF);
	put32le(&c, ssp);
	put32le(&c, 0);   /* desktopPhysicalWidth */
	put32le(&c, 0);   /* desktopPhysicalHeight */
	put16le(&c, 0);   /* desktopOrientation */
	put32le(&c, 100); /* desktopScaleFactor */
	put32le(&c, 100); /* deviceScaleFactor */
	assert_int_equal(c.n, 234);
	assert_true(core_len >= 4 && core_len <= c.n);
	c.d[2] = (uint8_t)core_len;
	c.d[3] = (uint8_t)(core_len >> 8);
	put(out, c.d, core_len);
}

static void put_other_blocks(struct buf *b)
{
	static const struct {
		const char *name;
		uint32_t options;
	} ch[4] = {{"rdpdr", 0x80800000},
	           {"rdpsnd", 0xc0000000},
	           {"cliprdr", 0xc0a00000},
	           {"drdynvc", 0xc0800000}};
	put16le(b, 0xC004), put16le(b, 12), put32le(b, 0x15), put32le(b, 0); /* cluster */
	put16le(b, 0xC002), put16le(b, 12), put32le(b, 0x1b), put32le(b, 0); /* security */
	put16le(b, 0xC003), put16le(b, 56), put32le(b, 4);                   /* network */
	for (int i = 0; i < 4; i++) {
		char name[8] = {0};
		memcpy(name, ch[i].name, strlen(ch[i].name));
		put(b, name, 8);
		put32le(b, ch[i].options);
	}
	put16le(b, 0xC006), put16le(b, 8), put32le(b, 0);     /* message channel */
	put16le(b, 0xC00A), put16le(b, 8), put32le(b, 0x305); /* multitransport */
}

static void put_blocks(struct buf *b, const struct ci_opts *o)
{
	if (!o->no_core && !o->core_last)
		put_core(b, o->core_len, o->ssp);
	put_other_blocks(b);
	if (!o->no_core && (o->core_last || o->dup_core))
		put_core(b, o->core_len, o->ssp);
}

/* ALIGNED PER unconstrained length determinant (X.691 §10.9.3.6-7). */
static void per_len(struct buf *b, size_t n, const struct ci_opts *o)
{
	assert_true(n < 16384);
	if (n < 128 && !o->per_len_two_octets) {
		put8(b, (unsigned)n);
	} else {
		put8(b, 0x80 | (unsigned)(n >> 8));
		put8(b, n & 0xff);
	}
}

/* BER definite length (X.690 §8.1.3). */
static void ber_len(struct buf *b, size_t n, const struct ci_opts *o)
{
	unsigned need = n < 256 ? 1 : n < 65536 ? 2 : 3;
	unsigned k = o->ber_len_octets > need ? o->ber_len_octets : need;
	if (!o->ber_len_octets && n < 128) {
		put8(b, (unsigned)n);
		return;
	}
	put8(b, 0x80 | k);
	while (k--)
		put8(b, (n >> (8 * k)) & 0xff);
}

static void ber_tlv(struct buf *b, const uint8_t *tag, size_t tag_len, const struct buf *content,
                    const struct ci_opts *o)
{
	put(b, tag, tag_len);
	ber_len(b, content->n, o);
	put(b, content->d, content->n);
}

/* INTEGER as mstsc writes it (MS-RDPBCGR 4.1.3): 65535 is 02 02 FF FF. */
static void ber_int(struct buf *b, unsigned v, const struct ci_opts *o)
{
	struct buf c = {.n = 0};
	if (v < 0x80)
		put8(&c, v);
	else
		put8(&c, v >> 8), put8(&c, v & 0xff);
	ber_tlv(b, (const uint8_t[]){0x02}, 1, &c, o);
}

static void ber_domain_parameters(struct buf *b, const unsigned v[8], const struct ci_opts *o)
{
	struct buf c = {.n = 0};
	for (int i = 0; i < 8; i++)
		ber_int(&c, v[i], o);
	ber_tlv(b, (const uint8_t[]){0x30}, 1, &c, o);
}

/* T.124 ConnectData holding a ConferenceCreateRequest (T.124 §8.7, §9.5). */
static void put_gcc(struct buf *b, const struct ci_opts *o)
{
	struct buf blocks = {.n = 0}, ccr = {.n = 0};
	put_blocks(&blocks, o);

	/* ConnectGCCPDU: choice 0 (4 bits), CCR extension bit 0 and 8 presence
	 * bits with only userData, ConferenceName ext/text bits 0, numeric
	 * length 0 (= 1 digit), aligned digit "1", three BOOLEANs false,
	 * terminationMethod automatic, padding: 00 08 00 10 00. */
	put(&ccr, (const uint8_t[]){0x00, 0x08, 0x00, 0x10, 0x00}, 5);
	per_len(&ccr, 1 + o->extra_set_element + o->second_duca, o); /* SET OF count */
	if (o->extra_set_element) {
		/* value present, key object: 1 0 -> 0x80; OID 1.2.3; value "hi". */
		put8(&ccr, 0x80);
		per_len(&ccr, 2, o);
		put(&ccr, (const uint8_t[]){0x2a, 0x03}, 2);
		per_len(&ccr, 2, o);
		put(&ccr, "hi", 2);
	}
	/* value present, key h221NonStandard: 1 1 -> 0xC0; length - 4 = 0; key. */
	put8(&ccr, 0xC0);
	put8(&ccr, 0x00);
	put(&ccr, o->h221_key ? o->h221_key : "Duca", 4);
	per_len(&ccr, blocks.n, o);
	put(&ccr, blocks.d, blocks.n);
	if (o->second_duca) {
		put(&ccr, (const uint8_t[]){0xC0, 0x00}, 2);
		put(&ccr, "Duca", 4);
		per_len(&ccr, 0, o);
	}

	if (o->ccr_cut)
		ccr.n = o->ccr_cut - 1;

	/* Key choice object (1 bit, padded), OID 0.0.20.124.0.1, connectPDU. */
	size_t start = b->n;
	put8(b, 0x00);
	per_len(b, 5, o);
	put(b, (const uint8_t[]){0x00, 0x14, 0x7c, 0x00, 0x01}, 5);
	per_len(b, ccr.n, o);
	put(b, ccr.d, ccr.n);
	if (o->gcc_cut)
		b->n = start + o->gcc_cut - 1;
}

/* Whole TPKT: TPKT | X.224 DT | BER Connect-Initial. */
static size_t build_ci(uint8_t *out, size_t cap, const struct ci_opts *o)
{
	static const unsigned target[8] = {34, 2, 0, 1, 0, 1, 65535, 2};
	static const unsigned minimum[8] = {1, 1, 1, 1, 0, 1, 1056, 2};
	static const unsigned maximum[8] = {65535, 64535, 65535, 1, 0, 1, 65535, 2};
	struct buf ci = {.n = 0}, gcc = {.n = 0}, one = {.n = 1, .d = {0x01}},
	           yes = {.n = 1, .d = {0xff}};
	struct buf ber = {.n = 0};

	ber_tlv(&ci, (const uint8_t[]){0x04}, 1, &one, o); /* callingDomainSelector */
	ber_tlv(&ci, (const uint8_t[]){0x04}, 1, &one, o); /* calledDomainSelector */
	ber_tlv(&ci, (const uint8_t[]){0x01}, 1, &yes, o); /* upwardFlag TRUE */
	ber_domain_parameters(&ci, target, o);
	ber_domain_parameters(&ci, minimum, o);
	ber_domain_parameters(&ci, maximum, o);
	put_gcc(&gcc, o);
	ber_tlv(&ci, (const uint8_t[]){0x04}, 1, &gcc, o); /* userData */
	ber_tlv(&ber, (const uint8_t[]){0x7f, 0x65}, 2, &ci, o);

	size_t n = 7 + ber.n;
	assert_true(n <= cap && n <= 65535);
	out[0] = 3, out[1] = 0, out[2] = (uint8_t)(n >> 8), out[3] = (uint8_t)n;
	out[4] = 0x02, out[5] = 0xf0, out[6] = 0x80;
	memcpy(out + 7, ber.d, ber.n);
	return n;
}

/* ---- helpers ---- */

static uint8_t *dup_exact(const uint8_t *p, size_t n)
{
	uint8_t *d = malloc(n ? n : 1);
	assert_non_null(d);
	if (n)
		memcpy(d, p, n);
	return d;
}

static uint32_t rd32le(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Runs the rewrite on an exact-size copy; checks that bytes change only
 * inside the serverSelectedProtocol field and only on success. */
static int set_checked(const uint8_t *pdu, size_t n, uint32_t proto, uint32_t *old,
                       const char **why)
{
	uint8_t *d = dup_exact(pdu, n);
	struct mcs_connect_initial ci;
	int r = mcs_set_server_selected_protocol(d, n, proto, old, why);
	int p = mcs_parse_connect_initial(pdu, n, &ci, NULL);
	if (r == -1)
		assert_non_null(why ? *why : "");
	for (size_t i = 0; i < n; i++) {
		if (d[i] == pdu[i])
			continue;
		assert_int_equal(r, 1);
		assert_int_equal(p, 1);
		assert_true(i >= ci.core_off + MCS_CORE_SSP_OFF &&
		            i < ci.core_off + MCS_CORE_SSP_OFF + 4);
	}
	if (r == 1)
		assert_int_equal(rd32le(d + ci.core_off + MCS_CORE_SSP_OFF), proto);
	free(d);
	return r;
}

static int parse_exact(const uint8_t *pdu, size_t n, struct mcs_connect_initial *ci,
                       const char **why)
{
	uint8_t *d = dup_exact(pdu, n);
	int r = mcs_parse_connect_initial(d, n, ci, why);
	free(d);
	return r;
}

static void expect_malformed(const char *name, const uint8_t *pdu, size_t n)
{
	const char *why = NULL;
	uint32_t old = 0xdeadbeef;
	int r = set_checked(pdu, n, 0, &old, &why);
	if (r != -1)
		fail_msg("%s: expected -1, got %d", name, r);
	if (!why || !*why)
		fail_msg("%s: no reason", name);
	assert_int_equal(old, 0xdeadbeef);
	print_message("  %-40s -> %s\n", name, why);
}

/* ---- tests ---- */

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
	    cmocka_unit_test(test_block_rules),
	    cmocka_unit_test(test_truncations),
	    cmocka_unit_test(test_per_truncations),
	    cmocka_unit_test(test_corrupted_lengths),
	    cmocka_unit_test(test_per_padding_bits_ignored),
	    cmocka_unit_test(test_trailing_bytes),
	    cmocka_unit_test(test_mutations),
	    cmocka_unit_test(test_is_connect_response),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
