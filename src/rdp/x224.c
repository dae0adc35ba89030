#include "x224.h"

#include "bytes.h"
#include "parse.h"
#include "tpkt.h"

#include <string.h>

/* Offsets inside a CR/CC PDU (MS-RDPBCGR 2.2.1.1, 2.2.1.2; X.224 §13.3, §13.4). */
#define OFF_LI    4  /* length indicator */
#define OFF_CODE  5  /* TPDU code (upper nibble) | CDT */
#define OFF_CLASS 10 /* class option: class in the upper nibble */
#define OFF_VAR   11 /* first byte of RDP's variable part */
#define CODE_CR   0xE0
#define CODE_CC   0xD0

static const char cookie_prefix[] = "Cookie: mstshash=";

/* What tells a CR from a CC: its TPDU code, the parser of its variable part
 * (buf[OFF_VAR..n) of a whole PDU of n bytes, into out) and the reasons
 * that name it. */
struct tpdu_kind {
	uint8_t code;
	int (*parse_var)(const uint8_t *buf, size_t n, void *out, const char **why);
	const char *wrong_code, *incomplete, *too_long;
};

/* TPKT header plus the fixed X.224 part shared by CR and CC. 1: buf holds the
 * whole PDU (*pdu_len bytes) and its fixed part is valid; 0 / -1 as usual.
 * Length bounds are checked from the 4 TPKT bytes alone, so an absurd length
 * fails at once instead of waiting for bytes that will not come. */
static int parse_fixed(const uint8_t *buf, size_t len, const struct tpdu_kind *k, size_t *pdu_len,
                       const char **why)
{
	size_t n;
	int r = tpkt_pdu_length(buf, len, &n, why);

	if (r <= 0)
		return r;
	if (n < X224_CR_MIN_LEN)
		return parse_fail(why,
		                  "TPKT length too small for an X.224 CR/CC TPDU (minimum 11)");
	if (n > X224_CR_MAX_LEN)
		return parse_fail(why,
		                  "TPKT length too large for an X.224 CR/CC TPDU (LI max 254)");
	if (len < n) {
		if (why)
			*why = "incomplete X.224 TPDU: need more bytes";
		return 0;
	}
	if (buf[OFF_LI] != n - TPKT_HEADER_LEN - 1)
		return parse_fail(why, "X.224 length indicator disagrees with TPKT length");
	if ((buf[OFF_CODE] & 0xF0) != k->code)
		return parse_fail(why, k->wrong_code);
	if ((buf[OFF_CLASS] >> 4) != 0)
		return parse_fail(why, "X.224 class is not 0");
	*pdu_len = n;
	return 1;
}

/* Cookie or routing token at p[0..n): CR LF terminated; *used includes CR LF. */
static int parse_token(const uint8_t *p, size_t n, struct x224_cr *cr, size_t off, size_t *used,
                       const char **why)
{
	for (size_t i = 0; i + 1 < n; i++) {
		if (p[i] != '\r' || p[i + 1] != '\n')
			continue;
		size_t plen = sizeof(cookie_prefix) - 1;
		if (i >= plen && memcmp(p, cookie_prefix, plen) == 0)
			cr->has_cookie = true;
		else
			cr->has_routing_token = true;
		cr->token_off = off;
		cr->token_len = i;
		*used = i + 2;
		return 1;
	}
	return parse_fail(why, "cookie/routing token not terminated by CR LF within the PDU");
}

/* RDP_NEG_REQ at p[0..n) (MS-RDPBCGR 2.2.1.1.1). */
static int parse_neg_req(const uint8_t *p, size_t n, struct x224_cr *cr, size_t off,
                         const char **why)
{
	if (p[0] != X224_TYPE_RDP_NEG_REQ)
		return parse_fail(
		    why, "bytes after the cookie/routing token are not RDP_NEG_REQ (type 1)");
	if (n < X224_NEG_LEN)
		return parse_fail(why, "RDP_NEG_REQ truncated by the X.224 length");
	if (rd16le(p + 2) != X224_NEG_LEN)
		return parse_fail(why, "RDP_NEG_REQ length is not 8");
	cr->has_neg_req = true;
	cr->neg_req_off = off;
	cr->neg_flags = p[1];
	cr->requested_protocols = rd32le(p + 4);
	return 1;
}

/* RDP_NEG_CORRELATION_INFO at p[0..n) (MS-RDPBCGR 2.2.1.1.2). Only the type
 * and length are checked: the id's content rules are the server's business. */
static int parse_correlation(const uint8_t *p, size_t n, const char **why)
{
	if (n < X224_CORRELATION_INFO_LEN)
		return parse_fail(why, "CORRELATION_INFO_PRESENT set but RDP_NEG_CORRELATION_INFO "
		                       "missing or truncated");
	if (p[0] != X224_TYPE_RDP_CORRELATION_INFO)
		return parse_fail(why, "RDP_NEG_CORRELATION_INFO type is not 6");
	if (rd16le(p + 2) != X224_CORRELATION_INFO_LEN)
		return parse_fail(why, "RDP_NEG_CORRELATION_INFO length is not 36");
	return 1;
}

/* The CR's variable part (MS-RDPBCGR 2.2.1.1): a cookie or routing token,
 * RDP_NEG_REQ, RDP_NEG_CORRELATION_INFO, in this order, each optional. */
static int parse_cr_var(const uint8_t *buf, size_t n, void *out, const char **why)
{
	struct x224_cr cr = {.pdu_len = n};

	/* Invariant: OFF_VAR <= off <= n, buf[0..n) readable. */
	size_t off = OFF_VAR;
	if (off < n && buf[off] != X224_TYPE_RDP_NEG_REQ) {
		size_t used;
		if (parse_token(buf + off, n - off, &cr, off, &used, why) < 0)
			return -1;
		off += used;
	}
	if (off < n) {
		if (parse_neg_req(buf + off, n - off, &cr, off, why) < 0)
			return -1;
		off += X224_NEG_LEN;
		if (cr.neg_flags & X224_NEG_CORRELATION_INFO_PRESENT) {
			if (parse_correlation(buf + off, n - off, why) < 0)
				return -1;
			cr.has_correlation_info = true;
			off += X224_CORRELATION_INFO_LEN;
		}
	}
	if (off != n)
		return parse_fail(why,
		                  "trailing bytes after the last X.224 Connection Request field");
	*(struct x224_cr *)out = cr;
	return 1;
}

/* The CC's variable part (MS-RDPBCGR 2.2.1.2): nothing (a server that
 * predates negotiation), or one RDP_NEG_RSP or RDP_NEG_FAILURE. */
static int parse_cc_var(const uint8_t *buf, size_t n, void *out, const char **why)
{
	struct x224_cc cc = {.pdu_len = n, .selected_protocol = X224_PROTOCOL_RDP};

	if (n == OFF_VAR) {
		*(struct x224_cc *)out = cc;
		return 1;
	}
	const uint8_t *p = buf + OFF_VAR;
	if (n - OFF_VAR != X224_NEG_LEN)
		return parse_fail(
		    why,
		    "X.224 Connection Confirm variable part is not one 8-byte RDP_NEG_RSP/FAILURE");
	if (p[0] != X224_TYPE_RDP_NEG_RSP && p[0] != X224_TYPE_RDP_NEG_FAILURE)
		return parse_fail(
		    why,
		    "Connection Confirm data is neither RDP_NEG_RSP (2) nor RDP_NEG_FAILURE (3)");
	if (rd16le(p + 2) != X224_NEG_LEN)
		return parse_fail(why, "RDP_NEG_RSP/RDP_NEG_FAILURE length is not 8");
	cc.has_neg = true;
	cc.neg_type = p[0];
	cc.neg_flags = p[1];
	if (p[0] == X224_TYPE_RDP_NEG_RSP)
		cc.selected_protocol = rd32le(p + 4);
	else
		cc.failure_code = rd32le(p + 4);
	*(struct x224_cc *)out = cc;
	return 1;
}

/* Indexed by enum tpdu: what tells a CR from a CC. */
enum tpdu { CR, CC };
static const struct tpdu_kind kinds[] = {
    [CR] = {CODE_CR, parse_cr_var, "X.224 TPDU code is not Connection Request (0xE0)",
            "incomplete X.224 Connection Request",
            "input holds bytes beyond the X.224 Connection Request"},
    [CC] = {CODE_CC, parse_cc_var, "X.224 TPDU code is not Connection Confirm (0xD0)",
            "incomplete X.224 Connection Confirm",
            "input holds bytes beyond the X.224 Connection Confirm"},
};

/* A whole CR or CC: the fixed part, then the kind's variable part. whole:
 * buf holds exactly one PDU, so too few bytes or too many are malformed
 * (then never 0). */
static int parse_tpdu(const uint8_t *buf, size_t len, const struct tpdu_kind *k, bool whole,
                      void *out, const char **why)
{
	size_t n;
	int r = parse_fixed(buf, len, k, &n, why);

	if (r == 0 && whole)
		return parse_fail(why, k->incomplete);
	if (r <= 0)
		return r;
	if (k->parse_var(buf, n, out, why) < 0)
		return -1;
	if (whole && n != len)
		return parse_fail(why, k->too_long);
	return 1;
}

int x224_parse_cr(const uint8_t *buf, size_t len, struct x224_cr *out, const char **why)
{
	return parse_tpdu(buf, len, &kinds[CR], false, out, why);
}

int x224_parse_cc(const uint8_t *buf, size_t len, struct x224_cc *out, const char **why)
{
	return parse_tpdu(buf, len, &kinds[CC], false, out, why);
}

int x224_set_requested_protocols(const uint8_t *in, size_t in_len, uint32_t protocols, uint8_t *out,
                                 size_t out_cap, size_t *out_len, const char **why)
{
	struct x224_cr cr;

	if (parse_tpdu(in, in_len, &kinds[CR], true, &cr, why) < 0)
		return -1;
	return x224_rewrite_cr(in, &cr, protocols, out, out_cap, out_len, why);
}

int x224_rewrite_cr(const uint8_t *in, const struct x224_cr *cr, uint32_t protocols, uint8_t *out,
                    size_t out_cap, size_t *out_len, const char **why)
{
	bool append = !cr->has_neg_req && protocols != X224_PROTOCOL_RDP;
	size_t n = cr->pdu_len + (append ? X224_NEG_LEN : 0);

	if (n > X224_CR_MAX_LEN)
		return parse_fail(why, "no room to append RDP_NEG_REQ: LI would exceed 254");
	if (out_cap < n)
		return parse_fail(why,
		                  "output buffer too small for the rewritten Connection Request");

	memmove(out, in, cr->pdu_len);
	if (cr->has_neg_req) {
		wr32le(out + cr->neg_req_off + 4, protocols);
	} else if (append) {
		/* Without RDP_NEG_REQ there is no correlation info either, so the
		 * PDU ends with the cookie/token (or the fixed part): append there. */
		uint8_t *neg = out + cr->pdu_len;
		neg[0] = X224_TYPE_RDP_NEG_REQ;
		neg[1] = 0;
		neg[2] = X224_NEG_LEN;
		neg[3] = 0;
		wr32le(neg + 4, protocols);
		out[2] = (uint8_t)(n >> 8);
		out[3] = (uint8_t)n;
		out[OFF_LI] = (uint8_t)(n - TPKT_HEADER_LEN - 1);
	}
	*out_len = n;
	return 0;
}

int x224_legacy_cc(const uint8_t *cc, size_t len, uint8_t *out, size_t out_cap, size_t *out_len,
                   const char **why)
{
	struct x224_cc parsed;

	if (parse_tpdu(cc, len, &kinds[CC], true, &parsed, why) < 0)
		return -1;
	if (out_cap < OFF_VAR)
		return parse_fail(why, "output buffer too small for a Connection Confirm");
	memmove(out, cc, OFF_VAR);
	out[2] = 0;
	out[3] = OFF_VAR;
	out[OFF_LI] = OFF_VAR - TPKT_HEADER_LEN - 1;
	*out_len = OFF_VAR;
	return 0;
}

const char *x224_protocol_name(uint32_t p)
{
	/* Indexed by the five defined bits: SSL, HYBRID, RDSTLS, HYBRID_EX, RDSAAD. */
	static const char *const names[32] = {
	    "RDP",
	    "SSL",
	    "HYBRID",
	    "SSL|HYBRID",
	    "RDSTLS",
	    "SSL|RDSTLS",
	    "HYBRID|RDSTLS",
	    "SSL|HYBRID|RDSTLS",
	    "HYBRID_EX",
	    "SSL|HYBRID_EX",
	    "HYBRID|HYBRID_EX",
	    "SSL|HYBRID|HYBRID_EX",
	    "RDSTLS|HYBRID_EX",
	    "SSL|RDSTLS|HYBRID_EX",
	    "HYBRID|RDSTLS|HYBRID_EX",
	    "SSL|HYBRID|RDSTLS|HYBRID_EX",
	    "RDSAAD",
	    "SSL|RDSAAD",
	    "HYBRID|RDSAAD",
	    "SSL|HYBRID|RDSAAD",
	    "RDSTLS|RDSAAD",
	    "SSL|RDSTLS|RDSAAD",
	    "HYBRID|RDSTLS|RDSAAD",
	    "SSL|HYBRID|RDSTLS|RDSAAD",
	    "HYBRID_EX|RDSAAD",
	    "SSL|HYBRID_EX|RDSAAD",
	    "HYBRID|HYBRID_EX|RDSAAD",
	    "SSL|HYBRID|HYBRID_EX|RDSAAD",
	    "RDSTLS|HYBRID_EX|RDSAAD",
	    "SSL|RDSTLS|HYBRID_EX|RDSAAD",
	    "HYBRID|RDSTLS|HYBRID_EX|RDSAAD",
	    "SSL|HYBRID|RDSTLS|HYBRID_EX|RDSAAD",
	};

	return parse_name(names, sizeof(names) / sizeof(names[0]), p);
}

const char *x224_failure_name(uint32_t code)
{
	/* Indexed by failureCode: X224_SSL_REQUIRED_BY_SERVER (1) to
	 * X224_SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER (6), MS-RDPBCGR 2.2.1.2.2. */
	static const char *const names[] = {NULL,
	                                    "SSL_REQUIRED_BY_SERVER",
	                                    "SSL_NOT_ALLOWED_BY_SERVER",
	                                    "SSL_CERT_NOT_ON_SERVER",
	                                    "INCONSISTENT_FLAGS",
	                                    "HYBRID_REQUIRED_BY_SERVER",
	                                    "SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER"};

	return parse_name(names, sizeof(names) / sizeof(names[0]), code);
}
