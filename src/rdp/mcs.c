#include "mcs.h"

#include "ber.h"
#include "bytes.h"
#include "parse.h"
#include "per.h"
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

/* T.124 §9.5 / MS-RDPBCGR 2.2.1.3: t124Identifier = {itu-t(0) recommendation(0)
 * t(20) t124(124) version(0) 1}, BER contents octets of the OBJECT IDENTIFIER. */
static const uint8_t t124_oid[5] = {0x00, 0x14, 0x7C, 0x00, 0x01};
/* H.221 non-standard keys of client-to-server and server-to-client GCC user
 * data (MS-RDPBCGR 2.2.1.3, 2.2.1.4). */
static const uint8_t h221_client_key[4] = {'D', 'u', 'c', 'a'};
static const uint8_t h221_server_key[4] = {'M', 'c', 'D', 'n'};

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

/* Connect-Initial (T.125 §7 part 2) at pdu[OFF_BER..len); *ud gets the
 * userData OCTET STRING contents. The Connect-Initial must fill the TPKT and
 * userData must be its last byte: anything else is a framing error. */
static int parse_connect_initial_ber(const uint8_t *pdu, size_t len, struct ber *ud,
                                     const char **why)
{
	struct ber all = {pdu, OFF_BER, len};
	struct ber ci, tmp;

	if (ber_tlv_tag(&all, tag_connect_initial, 2, &f_ci, &ci, why) < 0)
		return -1;
	if (all.off != all.end)
		return parse_fail(why, "bytes after the Connect-Initial within the TPKT");
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
	if (ber_tlv(&ci, &f_user_data, ud, why) < 0)
		return -1;
	if (ci.off != ci.end)
		return parse_fail(why, "Connect-Initial: bytes after userData");
	return 1;
}

/* ConnectData ::= SEQUENCE { t124Identifier Key, connectPDU OCTET STRING }
 * (T.124 §9.5) filling [off, off+len); *pdu gets a cursor over connectPDU.
 * exact_len: the connectPDU length must match and end the ConnectData (client
 * side); otherwise it is read and ignored and connectPDU runs to the end
 * (server side: see mcs_parse_connect_response in mcs.h). */
static int per_connect_data(const uint8_t *buf, size_t off, size_t len, bool exact_len,
                            struct per *pdu, const char **why)
{
	struct per r = {buf, off * 8, (off + len) * 8};
	unsigned choice;
	size_t n, at;

	/* Key ::= CHOICE { object OBJECT IDENTIFIER, h221NonStandard ... }: 1 bit. */
	if (!per_bits(&r, 1, &choice))
		return parse_fail(why, "GCC ConnectData: empty");
	if (choice != 0)
		return parse_fail(why,
		                  "GCC ConnectData: t124Identifier is not an OBJECT IDENTIFIER");
	if (!per_length(&r, &n) || !per_octets(&r, n, &at))
		return parse_fail(why, "GCC ConnectData: t124Identifier truncated");
	if (n != sizeof(t124_oid) || memcmp(buf + at, t124_oid, n) != 0)
		return parse_fail(why,
		                  "GCC ConnectData: t124Identifier is not T.124 0.0.20.124.0.1");
	if (!exact_len) {
		if (!per_length(&r, &n))
			return parse_fail(why, "GCC ConnectData: connectPDU length truncated");
		per_align(&r);
		*pdu = r;
		return 1;
	}
	if (!per_length(&r, &n) || !per_octets(&r, n, &at))
		return parse_fail(why, "GCC ConnectData: connectPDU length exceeds userData");
	if (r.bit != r.end_bit)
		return parse_fail(why, "GCC ConnectData: bytes after connectPDU");
	pdu->buf = buf;
	pdu->bit = at * 8;
	pdu->end_bit = (at + n) * 8;
	return 1;
}

/* ConferenceName ::= SEQUENCE { numeric SimpleNumericString, text
 * SimpleTextString OPTIONAL, ... } (T.124 §8.7). SimpleNumericString is
 * NumericString (SIZE (1..255)) (FROM ("0123456789")): an 8-bit length - 1
 * field (range 255, a non-aligned bit-field), then, octet-aligned, 4 bits per
 * digit holding its index 0..9. RDP clients send "1" (bytes 00 10). */
static int per_conference_name(struct per *r, const char **why)
{
	unsigned ext, text, n, digit;
	if (!per_bits(r, 1, &ext) || !per_bits(r, 1, &text) || !per_bits(r, 8, &n))
		return parse_fail(why, "GCC conferenceName truncated");
	if (ext || text)
		return parse_fail(why, "GCC conferenceName: extension or text form not supported");
	per_align(r);
	for (unsigned i = 0; i <= n; i++) {
		if (!per_bits(r, 4, &digit))
			return parse_fail(why, "GCC conferenceName truncated");
		if (digit > 9)
			return parse_fail(why, "GCC conferenceName: not a digit");
	}
	return 1;
}

/* Root component presence bits of ConferenceCreateRequest (T.124 §8.7), in
 * order: convenerPassword, password, conductorPrivileges, conductedPrivileges,
 * nonConductedPrivileges, conferenceDescription, callerIdentifier, userData. */
#define CCR_OPT_COUNT    8
#define CCR_OPT_USERDATA 0x01u

/* ConnectGCCPDU up to the start of its userData SET OF. *ext gets the
 * ConferenceCreateRequest extension bit. */
static int per_ccr_header(struct per *r, unsigned *ext, const char **why)
{
	unsigned ext_choice, choice, opts, flags, term_ext, term;

	/* ConnectGCCPDU ::= CHOICE { 8 alternatives, ... }: extension bit + 3 bits. */
	if (!per_bits(r, 1, &ext_choice) || !per_bits(r, 3, &choice))
		return parse_fail(why, "GCC connectPDU truncated");
	if (ext_choice || choice != 0)
		return parse_fail(why, "GCC connectPDU is not a ConferenceCreateRequest");
	if (!per_bits(r, 1, ext) || !per_bits(r, CCR_OPT_COUNT, &opts))
		return parse_fail(why, "GCC ConferenceCreateRequest truncated");
	if (!(opts & CCR_OPT_USERDATA))
		return parse_fail(why, "GCC ConferenceCreateRequest without userData");
	if (opts != CCR_OPT_USERDATA)
		return parse_fail(
		    why, "GCC ConferenceCreateRequest: optional fields other than userData "
		         "not supported");
	if (per_conference_name(r, why) < 0)
		return -1;
	/* lockedConference, listedConference, conductibleConference BOOLEANs;
	 * terminationMethod ENUMERATED { automatic, manual, ... }. */
	if (!per_bits(r, 3, &flags) || !per_bits(r, 1, &term_ext) || !per_bits(r, 1, &term))
		return parse_fail(why, "GCC ConferenceCreateRequest truncated");
	if (term_ext)
		return parse_fail(why, "GCC terminationMethod: extension value not supported");
	return 1;
}

/* One UserData element: SEQUENCE { key Key, value OCTET STRING OPTIONAL }.
 * Key is object (OID: length + contents) or h221NonStandard (OCTET STRING
 * (SIZE (4..255)): 8-bit length - 4 field, then octet-aligned bytes).
 * *is_duca: key is h221 `key` (4 bytes) and value present; then *voff and
 * *vlen. */
static int per_user_data_element(struct per *r, const uint8_t key[4], bool *is_duca, size_t *voff,
                                 size_t *vlen, const char **why)
{
	unsigned has_value, key_choice, klen;
	size_t n, at;
	bool duca = false;

	if (!per_bits(r, 1, &has_value) || !per_bits(r, 1, &key_choice))
		return parse_fail(why, "GCC userData element truncated");
	if (key_choice == 0) {
		if (!per_length(r, &n) || !per_octets(r, n, &at))
			return parse_fail(why, "GCC userData key OBJECT IDENTIFIER truncated");
	} else {
		if (!per_bits(r, 8, &klen) || klen > 255 - 4 || !per_octets(r, klen + 4, &at))
			return parse_fail(why, "GCC userData h221NonStandard key truncated");
		duca = klen == 0 && memcmp(r->buf + at, key, 4) == 0;
	}
	*is_duca = false;
	if (!has_value)
		return 1;
	if (!per_length(r, &n) || !per_octets(r, n, &at))
		return parse_fail(why, "GCC userData value length exceeds connectPDU");
	*is_duca = duca;
	*voff = at;
	*vlen = n;
	return 1;
}

/* The h221NonStandard element a GCC userData set must hold exactly once:
 * the client's "Duca" (MS-RDPBCGR 2.2.1.3) or the server's "McDn"
 * (2.2.1.4), and the reasons that name it and its PDU. */
struct user_data_want {
	const uint8_t *key;
	const char *twice, *missing, *trailing;
};

static const struct user_data_want duca = {h221_client_key,
                                           "GCC userData holds more than one \"Duca\" element",
                                           "GCC userData has no h221NonStandard \"Duca\" element",
                                           "GCC connectPDU: bytes after ConferenceCreateRequest"};
static const struct user_data_want mcdn = {h221_server_key,
                                           "GCC userData holds more than one \"McDn\" element",
                                           "GCC userData has no h221NonStandard \"McDn\" element",
                                           "GCC connectPDU: bytes after ConferenceCreateResponse"};

/* The userData set at r: UserData ::= SET OF ..., an unconstrained count,
 * then the elements; the wanted element's value window goes to *voff,
 * *vlen. Extension additions (ext: the extension bit is set) follow the
 * root components; without them the connectPDU ends after the set. */
static int parse_user_data(struct per *r, unsigned ext, const struct user_data_want *w,
                           size_t *voff, size_t *vlen, const char **why)
{
	size_t count;
	bool found = false;

	if (!per_length(r, &count))
		return parse_fail(why, "GCC userData set count truncated");
	if (count == 0)
		return parse_fail(why, "GCC userData set is empty");
	for (size_t i = 0; i < count; i++) {
		bool is_wanted;
		size_t o = 0, n = 0;
		if (per_user_data_element(r, w->key, &is_wanted, &o, &n, why) < 0)
			return -1;
		if (!is_wanted)
			continue;
		if (found)
			return parse_fail(why, w->twice);
		found = true;
		*voff = o;
		*vlen = n;
	}
	if (!found)
		return parse_fail(why, w->missing);
	per_align(r);
	if (!ext && r->bit != r->end_bit)
		return parse_fail(why, w->trailing);
	return 1;
}

/* userData of ConnectData at [off, off+len): finds the "Duca" value window. */
static int parse_gcc(const uint8_t *buf, size_t off, size_t len, size_t *voff, size_t *vlen,
                     const char **why)
{
	struct per r;
	unsigned ext;

	if (per_connect_data(buf, off, len, true, &r, why) < 0 || per_ccr_header(&r, &ext, why) < 0)
		return -1;
	return parse_user_data(&r, ext, &duca, voff, vlen, why);
}

/* The reasons that name whose data blocks are walked. */
struct blocks_side {
	const char *truncated, *too_short, *too_long;
};

/* Data blocks tiling [off, off+len) exactly: each a header (u16le type,
 * u16le length including the header; TS_UD_HEADER, MS-RDPBCGR 2.2.1.3.1 and
 * 2.2.1.4) and its body. each() gets every block in turn, with its offset in
 * buf; *count gets how many there are. */
static int walk_blocks(const uint8_t *buf, size_t off, size_t len, const struct blocks_side *side,
                       int (*each)(const uint8_t *buf, size_t off, uint16_t type, uint16_t blen,
                                   void *arg, const char **why),
                       void *arg, unsigned *count, const char **why)
{
	size_t end = off + len;

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
		if (each(buf, off, type, blen, arg, why) < 0)
			return -1;
		(*count)++;
		off += blen;
	}
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

/* Client data blocks (MS-RDPBCGR 2.2.1.3.1) tiling [off, off+len) exactly. */
static int parse_blocks(const uint8_t *buf, size_t off, size_t len, struct mcs_connect_initial *ci,
                        const char **why)
{
	static const struct blocks_side client = {
	    "client data block header truncated", "client data block length below 4",
	    "client data block length exceeds the GCC user data"};

	if (walk_blocks(buf, off, len, &client, client_block, ci, &ci->block_count, why) < 0)
		return -1;
	if (!ci->core_len)
		return parse_fail(why, "no TS_UD_CS_CORE (0xC001) client data block");
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

int mcs_parse_connect_initial(const uint8_t *pdu, size_t len, struct mcs_connect_initial *out,
                              const char **why)
{
	struct mcs_connect_initial ci;
	struct ber ud;

	memset(&ci, 0, sizeof(ci));
	if (check_tpkt_dt(pdu, len, why) < 0 || parse_connect_initial_ber(pdu, len, &ud, why) < 0)
		return -1;
	ci.user_data_off = ud.off;
	ci.user_data_len = ud.end - ud.off;
	if (parse_gcc(pdu, ci.user_data_off, ci.user_data_len, &ci.blocks_off, &ci.blocks_len,
	              why) < 0)
		return -1;
	if (parse_blocks(pdu, ci.blocks_off, ci.blocks_len, &ci, why) < 0)
		return -1;
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

/* ---- MCS Connect-Response (server to client) ---- */

/* Connect-Response (T.125 §7 part 2) at pdu[OFF_BER..len): *result and the
 * userData OCTET STRING contents. It must fill the TPKT. */
static int parse_connect_response_ber(const uint8_t *pdu, size_t len, unsigned *result,
                                      struct ber *ud, const char **why)
{
	struct ber all = {pdu, OFF_BER, len};
	struct ber cr, tmp;

	if (ber_tlv_tag(&all, tag_connect_response, 2, &f_cresp, &cr, why) < 0)
		return -1;
	if (all.off != all.end)
		return parse_fail(why, "bytes after the Connect-Response within the TPKT");
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
	if (ber_tlv(&cr, &f_resp_user_data, ud, why) < 0)
		return -1;
	if (cr.off != cr.end)
		return parse_fail(why, "Connect-Response: bytes after userData");
	return 1;
}

/* ConnectGCCPDU conferenceCreateResponse (T.124 §8.7) in the ConnectData at
 * [off, off+len); finds the "McDn" value window.
 *   ConferenceCreateResponse ::= SEQUENCE { nodeID UserID, tag INTEGER,
 *     result ENUMERATED { success, userRejected, resourcesNotAvailable,
 *     rejectedForSymmetryBreaking, lockedConferenceNotSupported, ... },
 *     userData UserData OPTIONAL, ... }
 * UserID (DynamicChannelID) is INTEGER (1001..65535): two aligned octets;
 * tag is an unconstrained INTEGER: length determinant and octets; result is
 * an extension bit and 3 bits. */
static int parse_gcc_response(const uint8_t *buf, size_t off, size_t len, size_t *voff,
                              size_t *vlen, const char **why)
{
	struct per r;
	unsigned ext_choice, choice, ext, has_user_data, node_id, res_ext, res;
	size_t n, at;

	if (per_connect_data(buf, off, len, false, &r, why) < 0)
		return -1;
	if (!per_bits(&r, 1, &ext_choice) || !per_bits(&r, 3, &choice))
		return parse_fail(why, "GCC connectPDU truncated");
	if (ext_choice || choice != 1)
		return parse_fail(why, "GCC connectPDU is not a ConferenceCreateResponse");
	if (!per_bits(&r, 1, &ext) || !per_bits(&r, 1, &has_user_data))
		return parse_fail(why, "GCC ConferenceCreateResponse truncated");
	per_align(&r);
	if (!per_bits(&r, 16, &node_id))
		return parse_fail(why, "GCC ConferenceCreateResponse nodeID truncated");
	if (!per_length(&r, &n) || n == 0 || !per_octets(&r, n, &at))
		return parse_fail(why, "GCC ConferenceCreateResponse tag truncated or empty");
	if (!per_bits(&r, 1, &res_ext) || !per_bits(&r, 3, &res))
		return parse_fail(why, "GCC ConferenceCreateResponse result truncated");
	if (res_ext || res != 0)
		return parse_fail(why, "GCC ConferenceCreateResponse result is not success");
	if (!has_user_data)
		return parse_fail(why, "GCC ConferenceCreateResponse without userData");
	return parse_user_data(&r, ext, &mcdn, voff, vlen, why);
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

/* Server data blocks (MS-RDPBCGR 2.2.1.4) tiling [off, off+len) exactly. */
static int parse_server_blocks(const uint8_t *buf, size_t off, size_t len,
                               struct mcs_connect_response *cr, const char **why)
{
	static const struct blocks_side server = {
	    "server data block header truncated", "server data block length below 4",
	    "server data block length exceeds the GCC user data"};

	if (walk_blocks(buf, off, len, &server, server_block, cr, &cr->block_count, why) < 0)
		return -1;
	if (!cr->has_security)
		return parse_fail(why, "no TS_UD_SC_SEC1 (0x0C02) server data block");
	return 1;
}

int mcs_parse_connect_response(const uint8_t *pdu, size_t len, struct mcs_connect_response *out,
                               const char **why)
{
	struct mcs_connect_response cr;
	struct ber ud;

	memset(&cr, 0, sizeof(cr));
	if (check_tpkt_dt(pdu, len, why) < 0 ||
	    parse_connect_response_ber(pdu, len, &cr.result, &ud, why) < 0)
		return -1;
	if (cr.result != 0) {
		/* The server refused the connection; what follows is not used. */
		*out = cr;
		return 1;
	}
	if (parse_gcc_response(pdu, ud.off, ud.end - ud.off, &cr.blocks_off, &cr.blocks_len, why) <
	        0 ||
	    parse_server_blocks(pdu, cr.blocks_off, cr.blocks_len, &cr, why) < 0)
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
