/* The Connect-Initial builder of the Connect-Initial tests:
 * mcs_initial_fixture.h. */
#include "mcs_initial_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

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

/* INTEGER as mstsc writes it (MS-RDPBCGR 4.1.3): 65535 is 02 02 FF FF. */
static void ber_int(struct buf *b, unsigned v, const struct ci_opts *o)
{
	struct buf c = {.n = 0};
	if (v < 0x80)
		put8(&c, v);
	else
		put8(&c, v >> 8), put8(&c, v & 0xff);
	put_ber_tlv(b, (const uint8_t[]){0x02}, 1, &c, o->ber_len_octets);
}

static void ber_domain_parameters(struct buf *b, const unsigned v[8], const struct ci_opts *o)
{
	struct buf c = {.n = 0};
	for (int i = 0; i < 8; i++)
		ber_int(&c, v[i], o);
	put_ber_tlv(b, (const uint8_t[]){0x30}, 1, &c, o->ber_len_octets);
}

/* T.124 ConnectData holding a ConferenceCreateRequest (T.124 §8.7, §9.5). */
static void put_gcc(struct buf *b, const struct ci_opts *o)
{
	struct buf blocks = {.n = 0}, ccr = {.n = 0};
	const bool two = o->per_len_two_octets;

	put_blocks(&blocks, o);

	/* ConnectGCCPDU: choice 0 (4 bits), CCR extension bit 0 and 8 presence
	 * bits with only userData, ConferenceName ext/text bits 0, numeric
	 * length 0 (= 1 digit), aligned digit "1", three BOOLEANs false,
	 * terminationMethod automatic, padding: 00 08 00 10 00. */
	put(&ccr, (const uint8_t[]){0x00, 0x08, 0x00, 0x10, 0x00}, 5);
	put_per_len(&ccr, 1 + o->extra_set_element + o->second_duca, two); /* SET OF count */
	if (o->extra_set_element) {
		/* value present, key object: 1 0 -> 0x80; OID 1.2.3; value "hi". */
		put8(&ccr, 0x80);
		put_per_len(&ccr, 2, two);
		put(&ccr, (const uint8_t[]){0x2a, 0x03}, 2);
		put_per_len(&ccr, 2, two);
		put(&ccr, "hi", 2);
	}
	/* value present, key h221NonStandard: 1 1 -> 0xC0; length - 4 = 0; key. */
	put8(&ccr, 0xC0);
	put8(&ccr, 0x00);
	put(&ccr, o->h221_key ? o->h221_key : "Duca", 4);
	put_per_len(&ccr, blocks.n, two);
	put(&ccr, blocks.d, blocks.n);
	if (o->second_duca) {
		put(&ccr, (const uint8_t[]){0xC0, 0x00}, 2);
		put(&ccr, "Duca", 4);
		put_per_len(&ccr, 0, two);
	}

	if (o->ccr_cut)
		ccr.n = o->ccr_cut - 1;

	/* Key choice object (1 bit, padded), OID 0.0.20.124.0.1, connectPDU. */
	size_t start = b->n;
	put8(b, 0x00);
	put_per_len(b, 5, two);
	put(b, (const uint8_t[]){0x00, 0x14, 0x7c, 0x00, 0x01}, 5);
	put_per_len(b, ccr.n, two);
	put(b, ccr.d, ccr.n);
	if (o->gcc_cut)
		b->n = start + o->gcc_cut - 1;
}

size_t build_ci(uint8_t *out, size_t cap, const struct ci_opts *o)
{
	static const unsigned target[8] = {34, 2, 0, 1, 0, 1, 65535, 2};
	static const unsigned minimum[8] = {1, 1, 1, 1, 0, 1, 1056, 2};
	static const unsigned maximum[8] = {65535, 64535, 65535, 1, 0, 1, 65535, 2};
	struct buf ci = {.n = 0}, gcc = {.n = 0}, one = {.n = 1, .d = {0x01}},
	           yes = {.n = 1, .d = {0xff}};
	struct buf ber = {.n = 0};
	const unsigned k = o->ber_len_octets;

	put_ber_tlv(&ci, (const uint8_t[]){0x04}, 1, &one, k); /* callingDomainSelector */
	put_ber_tlv(&ci, (const uint8_t[]){0x04}, 1, &one, k); /* calledDomainSelector */
	put_ber_tlv(&ci, (const uint8_t[]){0x01}, 1, &yes, k); /* upwardFlag TRUE */
	ber_domain_parameters(&ci, target, o);
	ber_domain_parameters(&ci, minimum, o);
	ber_domain_parameters(&ci, maximum, o);
	put_gcc(&gcc, o);
	put_ber_tlv(&ci, (const uint8_t[]){0x04}, 1, &gcc, k); /* userData */
	put_ber_tlv(&ber, (const uint8_t[]){0x7f, 0x65}, 2, &ci, k);

	size_t n = 7 + ber.n;
	assert_true(n <= cap && n <= 65535);
	out[0] = 3, out[1] = 0, out[2] = (uint8_t)(n >> 8), out[3] = (uint8_t)n;
	out[4] = 0x02, out[5] = 0xf0, out[6] = 0x80;
	memcpy(out + 7, ber.d, ber.n);
	return n;
}

int set_checked(const uint8_t *pdu, size_t n, uint32_t proto, uint32_t *old, const char **why)
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

int parse_exact(const uint8_t *pdu, size_t n, struct mcs_connect_initial *ci, const char **why)
{
	uint8_t *d = dup_exact(pdu, n);
	int r = mcs_parse_connect_initial(d, n, ci, why);
	free(d);
	return r;
}

void expect_malformed(const char *name, const uint8_t *pdu, size_t n)
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
