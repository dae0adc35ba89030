#include "mcs.h"

#include "ber.h"
#include "bytes.h"
#include "gcc.h"
#include "parse.h"
#include "tpkt.h"

#include <stdbool.h>
#include <string.h>

/* X.224 class 0 Data TPDU (X.224 §13.7): LI 2, code DT 0xF0, EOT set, TPDU-NR 0.
 * A Connect-Initial split over several DT TPDUs (EOT clear) is not supported. */
#define DT_LI   0x02
#define DT_CODE 0xF0
#define DT_EOT  0x80
#define OFF_BER 7 /* TPKT (4) + DT (3) */

/* [APPLICATION 101] / [APPLICATION 102] constructed, high tag number form (T.125 §7 part 2). */
static const uint8_t tag_connect_initial[2] = {0x7F, 0x65};
static const uint8_t tag_connect_response[2] = {0x7F, 0x66};

#define UD_HEADER_LEN 4

static const struct ber_field f_ci = BER_FIELD(0, "Connect-Initial");
static const struct ber_field f_calling = BER_FIELD(BER_OCTET_STRING, "callingDomainSelector");
static const struct ber_field f_called = BER_FIELD(BER_OCTET_STRING, "calledDomainSelector");
static const struct ber_field f_upward = BER_FIELD(BER_BOOLEAN, "upwardFlag");
static const struct ber_field f_target = BER_FIELD(BER_SEQUENCE, "targetParameters");
static const struct ber_field f_minimum = BER_FIELD(BER_SEQUENCE, "minimumParameters");
static const struct ber_field f_maximum = BER_FIELD(BER_SEQUENCE, "maximumParameters");
static const struct ber_field f_integer = BER_FIELD(BER_INTEGER, "DomainParameters INTEGER");
static const struct ber_field f_user_data = BER_FIELD(BER_OCTET_STRING, "Connect-Initial userData");
static const struct ber_field f_cresp = BER_FIELD(0, "Connect-Response");
static const struct ber_field f_result = BER_FIELD(BER_ENUMERATED, "Connect-Response result");
static const struct ber_field f_called_id = BER_FIELD(BER_INTEGER, "calledConnectId");
static const struct ber_field f_domain = BER_FIELD(BER_SEQUENCE, "domainParameters");
static const struct ber_field f_resp_user_data =
    BER_FIELD(BER_OCTET_STRING, "Connect-Response userData");

/* DomainParameters ::= SEQUENCE of exactly 8 INTEGERs (T.125 §7 part 2). The
 * values are not interpreted: mstsc encodes 65535 as 02 02 FF FF, which
 * strict BER reads as -1. */
static int ber_domain_parameters(struct ber *b, const struct ber_field *f, const char **why)
{
	struct ber seq, num;
	if (ber_tlv(b, f, &seq, why) < 0)
		return -1;
	for (int i = 0; i < 8; i++) {
		if (ber_tlv(&seq, &f_integer, &num, why) < 0)
			return -1;
		if (num.end == num.off)
			return parse_fail(why, "DomainParameters INTEGER with empty contents");
	}
	if (seq.off != seq.end)
		return parse_fail(why, "DomainParameters: bytes after the 8 INTEGERs");
	return 1;
}

static int check_tpkt_dt(const uint8_t *pdu, size_t len, const char **why)
{
	size_t n;
	int r = tpkt_pdu_length(pdu, len, &n, why);

	if (r < 0)
		return -1;
	if (r == 0 || n != len)
		return parse_fail(why, "buffer is not exactly one complete TPKT");
	if (pdu[4] != DT_LI || pdu[5] != DT_CODE)
		return parse_fail(why, "not an X.224 class 0 Data TPDU (02 F0)");
	if (pdu[6] != DT_EOT)
		return parse_fail(why,
		                  "X.224 Data TPDU without EOT (fragmented MCS PDU) not supported");
	return 1;
}

/* What a Connect-Initial and a Connect-Response share: one X.224 Data TPDU
 * holds exactly the BER-encoded PDU (T.125 §7 part 2), whose last field is
 * userData. Its tag and fields, and the reasons that name it. */
struct mcs_pdu {
	const uint8_t *tag;
	const struct ber_field *f, *user_data;
	const char *after_pdu, *after_user_data;
};

static const struct mcs_pdu connect_initial = {tag_connect_initial, &f_ci, &f_user_data,
                                               "bytes after the Connect-Initial within the TPKT",
                                               "Connect-Initial: bytes after userData"};
static const struct mcs_pdu connect_response = {tag_connect_response, &f_cresp, &f_resp_user_data,
                                                "bytes after the Connect-Response within the TPKT",
                                                "Connect-Response: bytes after userData"};

/* The Data TPDU and the PDU's tag: *body gets the PDU's contents. */
static int pdu_open(const uint8_t *pdu, size_t len, const struct mcs_pdu *k, struct ber *body,
                    const char **why)
{
	struct ber all = {pdu, OFF_BER, len};

	if (check_tpkt_dt(pdu, len, why) < 0 || ber_tlv_tag(&all, k->tag, 2, k->f, body, why) < 0)
		return -1;
	if (all.off != all.end)
		return parse_fail(why, k->after_pdu);
	return 1;
}

/* userData, which must end body: *ud gets its contents. */
static int pdu_user_data(struct ber *body, const struct mcs_pdu *k, struct ber *ud,
                         const char **why)
{
	if (ber_tlv(body, k->user_data, ud, why) < 0)
		return -1;
	if (body->off != body->end)
		return parse_fail(why, k->after_user_data);
	return 1;
}

/* Connect-Initial (T.125 §7 part 2) at pdu[OFF_BER..len); *ud gets the
 * userData OCTET STRING contents. The Connect-Initial must fill the TPKT and
 * userData must be its last byte: anything else is a framing error. */
static int parse_connect_initial_ber(const uint8_t *pdu, size_t len, struct ber *ud,
                                     const char **why)
{
	struct ber ci, tmp;

	if (pdu_open(pdu, len, &connect_initial, &ci, why) < 0)
		return -1;
	if (ber_tlv(&ci, &f_calling, &tmp, why) < 0 || ber_tlv(&ci, &f_called, &tmp, why) < 0)
		return -1;
	if (ber_tlv(&ci, &f_upward, &tmp, why) < 0)
		return -1;
	if (tmp.end - tmp.off != 1)
		return parse_fail(why, "upwardFlag: BOOLEAN length is not 1");
	if (ber_domain_parameters(&ci, &f_target, why) < 0 ||
	    ber_domain_parameters(&ci, &f_minimum, why) < 0 ||
	    ber_domain_parameters(&ci, &f_maximum, why) < 0)
		return -1;
	return pdu_user_data(&ci, &connect_initial, ud, why);
}

/* What differs between the two sides of the connection: the client's
 * Connect-Initial carries a ConferenceCreateRequest and client data blocks,
 * the server's Connect-Response a ConferenceCreateResponse and server data
 * blocks. The GCC parser (gcc.h), the reasons that name the blocks, what to
 * do with each block (given its offset in buf), and the block that must be
 * there. */
struct side {
	int (*gcc)(const uint8_t *buf, size_t off, size_t len, size_t *voff, size_t *vlen,
	           const char **why);
	const char *truncated, *too_short, *too_long;
	int (*each)(const uint8_t *buf, size_t off, uint16_t type, uint16_t blen, void *arg,
	            const char **why);
	uint16_t required;
	const char *missing;
};

/* Data blocks tiling [off, off+len) exactly: each a header (u16le type,
 * u16le length including the header; TS_UD_HEADER, MS-RDPBCGR 2.2.1.3.1 and
 * 2.2.1.4) and its body; *count gets how many there are. */
static int walk_blocks(const uint8_t *buf, size_t off, size_t len, const struct side *side,
                       void *arg, unsigned *count, const char **why)
{
	size_t end = off + len;
	bool required = false;

	*count = 0;
	while (off < end) {
		if (end - off < UD_HEADER_LEN)
			return parse_fail(why, side->truncated);
		uint16_t type = rd16le(buf + off);
		uint16_t blen = rd16le(buf + off + 2);
		if (blen < UD_HEADER_LEN)
			return parse_fail(why, side->too_short);
		if (blen > end - off)
			return parse_fail(why, side->too_long);
		if (side->each(buf, off, type, blen, arg, why) < 0)
			return -1;
		required |= type == side->required;
		(*count)++;
		off += blen;
	}
	if (!required)
		return parse_fail(why, side->missing);
	return 1;
}

static int client_block(const uint8_t *buf, size_t off, uint16_t type, uint16_t blen, void *arg,
                        const char **why)
{
	struct mcs_connect_initial *ci = arg;

	(void)buf;
	if (type == MCS_CS_CORE) {
		if (ci->core_len)
			return parse_fail(why, "more than one TS_UD_CS_CORE block");
		ci->core_off = off;
		ci->core_len = blen;
	}
	return 1;
}

/* ---- MCS Connect-Response (server to client) ---- */

/* Connect-Response (T.125 §7 part 2) at pdu[OFF_BER..len): *result and the
 * userData OCTET STRING contents. It must fill the TPKT. */
static int parse_connect_response_ber(const uint8_t *pdu, size_t len, unsigned *result,
                                      struct ber *ud, const char **why)
{
	struct ber cr, tmp;

	if (pdu_open(pdu, len, &connect_response, &cr, why) < 0)
		return -1;
	if (ber_tlv(&cr, &f_result, &tmp, why) < 0)
		return -1;
	if (tmp.end - tmp.off != 1)
		return parse_fail(why, "Connect-Response result: ENUMERATED length is not 1");
	*result = pdu[tmp.off];
	if (ber_tlv(&cr, &f_called_id, &tmp, why) < 0)
		return -1;
	if (tmp.end == tmp.off)
		return parse_fail(why, "calledConnectId: INTEGER with empty contents");
	if (ber_domain_parameters(&cr, &f_domain, why) < 0)
		return -1;
	return pdu_user_data(&cr, &connect_response, ud, why);
}

/* TS_UD_SC_SEC1 (MS-RDPBCGR 2.2.1.4.3) of blen bytes at b, header included:
 * encryptionMethod, encryptionLevel, then, unless both are 0,
 * serverRandomLen, serverCertLen and those bytes, inside the block. */
static int parse_server_security(const uint8_t *b, size_t blen, struct mcs_connect_response *cr,
                                 const char **why)
{
	if (blen < UD_HEADER_LEN + 8)
		return parse_fail(why, "TS_UD_SC_SEC1 shorter than 12 bytes");
	cr->encryption_method = rd32le(b + 4);
	cr->encryption_level = rd32le(b + 8);
	if (cr->encryption_method == MCS_ENCRYPTION_METHOD_NONE &&
	    cr->encryption_level == MCS_ENCRYPTION_LEVEL_NONE)
		return 1;
	if (blen < UD_HEADER_LEN + 16)
		return parse_fail(why,
		                  "TS_UD_SC_SEC1 with encryption but without serverRandomLen and "
		                  "serverCertLen");
	uint32_t rl = rd32le(b + 12), cl = rd32le(b + 16);
	size_t room = blen - (UD_HEADER_LEN + 16);
	if (rl > room || cl > room - rl)
		return parse_fail(
		    why, "TS_UD_SC_SEC1: serverRandom and serverCertificate exceed the block");
	cr->server_random_len = rl;
	cr->server_cert_len = cl;
	return 1;
}

static int server_block(const uint8_t *buf, size_t off, uint16_t type, uint16_t blen, void *arg,
                        const char **why)
{
	struct mcs_connect_response *cr = arg;
	const uint8_t *b = buf + off;

	if (type == MCS_SC_CORE) {
		if (cr->has_core)
			return parse_fail(why, "more than one TS_UD_SC_CORE block");
		if (blen < UD_HEADER_LEN + 4)
			return parse_fail(why, "TS_UD_SC_CORE shorter than 8 bytes");
		cr->has_core = true;
		cr->version = rd32le(b + 4);
	} else if (type == MCS_SC_SECURITY) {
		if (cr->has_security)
			return parse_fail(why, "more than one TS_UD_SC_SEC1 block");
		if (parse_server_security(b, blen, cr, why) < 0)
			return -1;
		cr->has_security = true;
	}
	return 1;
}

/* ---- both sides ---- */

/* The client's side (MS-RDPBCGR 2.2.1.3) and the server's (2.2.1.4). */
static const struct side client = {gcc_parse_request,
                                   "client data block header truncated",
                                   "client data block length below 4",
                                   "client data block length exceeds the GCC user data",
                                   client_block,
                                   MCS_CS_CORE,
                                   "no TS_UD_CS_CORE (0xC001) client data block"};
static const struct side server = {gcc_parse_response,
                                   "server data block header truncated",
                                   "server data block length below 4",
                                   "server data block length exceeds the GCC user data",
                                   server_block,
                                   MCS_SC_SECURITY,
                                   "no TS_UD_SC_SEC1 (0x0C02) server data block"};

/* userData ud: the side's GCC PDU and the data blocks it carries (their
 * window into *blocks_off, *blocks_len; how many into *count). */
static int parse_user_data(const uint8_t *pdu, const struct ber *ud, const struct side *side,
                           void *arg, size_t *blocks_off, size_t *blocks_len, unsigned *count,
                           const char **why)
{
	if (side->gcc(pdu, ud->off, ud->end - ud->off, blocks_off, blocks_len, why) < 0)
		return -1;
	return walk_blocks(pdu, *blocks_off, *blocks_len, side, arg, count, why);
}

int mcs_parse_connect_initial(const uint8_t *pdu, size_t len, struct mcs_connect_initial *out,
                              const char **why)
{
	struct mcs_connect_initial ci = {0};
	struct ber ud;

	if (parse_connect_initial_ber(pdu, len, &ud, why) < 0 ||
	    parse_user_data(pdu, &ud, &client, &ci, &ci.blocks_off, &ci.blocks_len, &ci.block_count,
	                    why) < 0)
		return -1;
	ci.user_data_off = ud.off;
	ci.user_data_len = ud.end - ud.off;
	*out = ci;
	return 1;
}

int mcs_set_server_selected_protocol(uint8_t *pdu, size_t len, uint32_t protocol,
                                     uint32_t *old_value, const char **why)
{
	struct mcs_connect_initial ci;

	if (mcs_parse_connect_initial(pdu, len, &ci, why) < 0)
		return -1;
	if (ci.core_len < MCS_CORE_SSP_MIN_LEN) {
		if (why)
			*why =
			    "TS_UD_CS_CORE shorter than 216 bytes: no serverSelectedProtocol field";
		return 0;
	}
	uint8_t *field = pdu + ci.core_off + MCS_CORE_SSP_OFF;
	if (old_value)
		*old_value = rd32le(field);
	wr32le(field, protocol);
	return 1;
}

int mcs_parse_connect_response(const uint8_t *pdu, size_t len, struct mcs_connect_response *out,
                               const char **why)
{
	struct mcs_connect_response cr = {0};
	struct ber ud;

	if (parse_connect_response_ber(pdu, len, &cr.result, &ud, why) < 0)
		return -1;
	/* result != 0: the server refused the connection; what follows is not used. */
	if (cr.result == 0 && parse_user_data(pdu, &ud, &server, &cr, &cr.blocks_off,
	                                      &cr.blocks_len, &cr.block_count, why) < 0)
		return -1;
	*out = cr;
	return 1;
}

const char *mcs_encryption_method_name(uint32_t method)
{
	static const char *const names[] = {[MCS_ENCRYPTION_METHOD_NONE] = "NONE",
	                                    [MCS_ENCRYPTION_METHOD_40BIT] = "40BIT",
	                                    [MCS_ENCRYPTION_METHOD_128BIT] = "128BIT",
	                                    [MCS_ENCRYPTION_METHOD_56BIT] = "56BIT",
	                                    [MCS_ENCRYPTION_METHOD_FIPS] = "FIPS"};

	return parse_name(names, sizeof(names) / sizeof(names[0]), method);
}

const char *mcs_encryption_level_name(uint32_t level)
{
	static const char *const names[] = {"NONE", "LOW", "CLIENT_COMPATIBLE", "HIGH", "FIPS"};

	return parse_name(names, sizeof(names) / sizeof(names[0]), level);
}

int mcs_is_connect_response(const uint8_t *pdu, size_t len)
{
	size_t n;

	if (len < OFF_BER + 2 || tpkt_pdu_length(pdu, len, &n, NULL) != 1 || n < OFF_BER + 2)
		return 0;
	if (pdu[4] != DT_LI || pdu[5] != DT_CODE || pdu[6] != DT_EOT)
		return 0;
	return memcmp(pdu + OFF_BER, tag_connect_response, 2) == 0;
}
