/* X.224 Connection Request / Connection Confirm as RDP uses them
 * (MS-RDPBCGR 2.2.1.1, 2.2.1.2; ITU-T X.224 §13.3, §13.4), carried in TPKT.
 *
 * Connection Request TPDU, after the 4-byte TPKT header:
 *   u8 LI                  length indicator: bytes that follow LI itself, i.e.
 *                          TPKT length - 5 (RDP puts its data inside the LI span)
 *   u8 CR|CDT              0xE0 in the upper nibble, credit in the lower
 *   u16 DST-REF, u16 SRC-REF
 *   u8 class option        class 0 in the upper nibble
 *   [routingToken | cookie] optional, terminated by CR LF; a cookie is
 *                          "Cookie: mstshash=IDENTIFIER\r\n"
 *   [RDP_NEG_REQ]          optional: u8 type 1, u8 flags, u16le length 8,
 *                          u32le requestedProtocols
 *   [RDP_NEG_CORRELATION_INFO] only when flags has CORRELATION_INFO_PRESENT:
 *                          u8 type 6, u8 flags, u16le length 36, 16 bytes id,
 *                          16 bytes reserved
 * LI is at most 254 (X.224 §13.2.1), so a CR is at most 259 bytes.
 *
 * Connection Confirm: same fixed part with code 0xD0, then optionally an
 * 8-byte RDP_NEG_RSP (type 2, u32le selectedProtocol) or RDP_NEG_FAILURE
 * (type 3, u32le failureCode).
 *
 * Return convention and *why as in tpkt.h. */
#ifndef MD9_X224_H
#define MD9_X224_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* requestedProtocols / selectedProtocol bits (MS-RDPBCGR 2.2.1.1.1). */
#define X224_PROTOCOL_RDP       0x00000000u
#define X224_PROTOCOL_SSL       0x00000001u
#define X224_PROTOCOL_HYBRID    0x00000002u
#define X224_PROTOCOL_RDSTLS    0x00000004u
#define X224_PROTOCOL_HYBRID_EX 0x00000008u
#define X224_PROTOCOL_RDSAAD    0x00000010u

/* RDP_NEG_REQ flags (MS-RDPBCGR 2.2.1.1.1). */
#define X224_NEG_RESTRICTED_ADMIN_MODE_REQUIRED          0x01u
#define X224_NEG_REDIRECTED_AUTHENTICATION_MODE_REQUIRED 0x02u
#define X224_NEG_CORRELATION_INFO_PRESENT                0x08u

/* RDP_NEG_* type bytes and sizes (MS-RDPBCGR 2.2.1.1.1, 2.2.1.1.2, 2.2.1.2.1, 2.2.1.2.2). */
#define X224_TYPE_RDP_NEG_REQ          0x01
#define X224_TYPE_RDP_NEG_RSP          0x02
#define X224_TYPE_RDP_NEG_FAILURE      0x03
#define X224_TYPE_RDP_CORRELATION_INFO 0x06
#define X224_NEG_LEN                   8
#define X224_CORRELATION_INFO_LEN      36

/* RDP_NEG_FAILURE failureCode values (MS-RDPBCGR 2.2.1.2.2). */
#define X224_SSL_REQUIRED_BY_SERVER                1
#define X224_SSL_NOT_ALLOWED_BY_SERVER             2
#define X224_SSL_CERT_NOT_ON_SERVER                3
#define X224_INCONSISTENT_FLAGS                    4
#define X224_HYBRID_REQUIRED_BY_SERVER             5
#define X224_SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER 6

/* TPKT header + fixed CR/CC part (LI, code, DST-REF, SRC-REF, class). */
#define X224_CR_MIN_LEN 11
/* TPKT header + LI byte + the maximum LI of 254. */
#define X224_CR_MAX_LEN 259

struct x224_cr {
	size_t pdu_len;               /* TPKT length: bytes of buf this CR occupies */
	bool has_cookie;              /* "Cookie: mstshash=...\r\n" present */
	bool has_routing_token;       /* any other CRLF-terminated token present */
	bool has_neg_req;             /* RDP_NEG_REQ present */
	size_t neg_req_off;           /* offset of RDP_NEG_REQ's type byte in buf */
	uint8_t neg_flags;            /* RDP_NEG_REQ flags (0 when absent) */
	uint32_t requested_protocols; /* 0 (PROTOCOL_RDP) when RDP_NEG_REQ is absent */
	bool has_correlation_info;    /* RDP_NEG_CORRELATION_INFO present */
	size_t token_off;             /* cookie/routing token offset in buf (0 when absent) */
	size_t token_len;             /* its length without the CR LF (0 when absent) */
};

/* Parses the X.224 Connection Request at the start of buf. 1: complete and
 * valid, out filled, out->pdu_len bytes belong to it (buf may hold more
 * bytes after it). 0: a prefix of a CR, more bytes needed. -1: malformed.
 * Everything after the fixed part must be accounted for: token/cookie,
 * RDP_NEG_REQ, correlation info (exactly when its flag is set), nothing else.
 * A variable part starting with byte 0x01 is taken as RDP_NEG_REQ; any other
 * first byte starts a cookie or routing token. */
int x224_parse_cr(const uint8_t *buf, size_t len, struct x224_cr *out, const char **why);

/* Writes to out the CR in (exactly one complete CR, in_len == its TPKT
 * length) with requestedProtocols set to protocols:
 * - RDP_NEG_REQ present: only its requestedProtocols changes (even for 0);
 * - absent, protocols != 0: an RDP_NEG_REQ with flags 0 is appended after the
 *   cookie/token, TPKT length and LI grow by 8 (fails when LI would pass 254);
 * - absent, protocols == 0: copied unchanged.
 * out may equal in. *out_len gets the new length (at most in_len + 8).
 * Returns 0, or -1 (malformed or incomplete input, out_cap too small; out
 * is then unspecified). */
int x224_set_requested_protocols(const uint8_t *in, size_t in_len, uint32_t protocols, uint8_t *out,
                                 size_t out_cap, size_t *out_len, const char **why);
/* The same for a CR already parsed: cr is what x224_parse_cr returned for
 * in (its pdu_len bytes are the CR), so nothing is parsed again. */
int x224_rewrite_cr(const uint8_t *in, const struct x224_cr *cr, uint32_t protocols, uint8_t *out,
                    size_t out_cap, size_t *out_len, const char **why);

struct x224_cc {
	size_t pdu_len;
	bool has_neg;     /* RDP_NEG_RSP or RDP_NEG_FAILURE present */
	uint8_t neg_type; /* X224_TYPE_RDP_NEG_RSP or X224_TYPE_RDP_NEG_FAILURE */
	uint8_t neg_flags;
	uint32_t selected_protocol; /* RDP_NEG_RSP; X224_PROTOCOL_RDP without one */
	uint32_t failure_code;      /* RDP_NEG_FAILURE; 0 otherwise */
};

/* Parses the X.224 Connection Confirm at the start of buf; same convention as
 * x224_parse_cr. */
int x224_parse_cc(const uint8_t *buf, size_t len, struct x224_cc *out, const char **why);

/* Writes to out the Connection Confirm cc (exactly one complete CC, len ==
 * its TPKT length) without its RDP_NEG_RSP / RDP_NEG_FAILURE: the legacy
 * form, 11 bytes, TPKT length and LI adjusted, DST-REF, SRC-REF and class
 * kept. A server answers a Connection Request that carried no RDP_NEG_REQ
 * so (MS-RDPBCGR 3.3.5.3.2: rdpNegData is then left out). out may equal cc.
 * Returns 0, or -1 (malformed or incomplete CC, out_cap < 11). */
int x224_legacy_cc(const uint8_t *cc, size_t len, uint8_t *out, size_t out_cap, size_t *out_len,
                   const char **why);

/* Static names: "RDP" for 0, "SSL", "HYBRID", "RDSTLS", "HYBRID_EX",
 * "RDSAAD", combinations joined with '|' in bit order (0x0B is
 * "SSL|HYBRID|HYBRID_EX"). Any bit above 0x10 gives "UNKNOWN". */
const char *x224_protocol_name(uint32_t p);
/* "SSL_REQUIRED_BY_SERVER" etc.; "UNKNOWN" for codes outside 1..6. */
const char *x224_failure_name(uint32_t code);

#endif
