#include "gcc.h"

#include "parse.h"
#include "per.h"

#include <stdbool.h>
#include <string.h>

/* T.124 §9.5 / MS-RDPBCGR 2.2.1.3: t124Identifier = {itu-t(0) recommendation(0)
 * t(20) t124(124) version(0) 1}, BER contents octets of the OBJECT IDENTIFIER. */
static const uint8_t t124_oid[5] = {0x00, 0x14, 0x7C, 0x00, 0x01};
/* H.221 non-standard keys of client-to-server and server-to-client GCC user
 * data (MS-RDPBCGR 2.2.1.3, 2.2.1.4). */
static const uint8_t h221_client_key[4] = {'D', 'u', 'c', 'a'};
static const uint8_t h221_server_key[4] = {'M', 'c', 'D', 'n'};

/* ConnectData ::= SEQUENCE { t124Identifier Key, connectPDU OCTET STRING }
 * (T.124 §9.5) filling [off, off+len); *pdu gets a cursor over connectPDU.
 * exact_len: the connectPDU length must match and end the ConnectData (client
 * side); otherwise it is read and ignored and connectPDU runs to the end
 * (server side: see gcc_parse_response in gcc.h). */
static int connect_data(const uint8_t *buf, size_t off, size_t len, bool exact_len, struct per *pdu,
                        const char **why)
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
static int conference_name(struct per *r, const char **why)
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
static int ccr_header(struct per *r, unsigned *ext, const char **why)
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
	if (conference_name(r, why) < 0)
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
static int user_data_element(struct per *r, const uint8_t key[4], bool *is_duca, size_t *voff,
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
static int user_data(struct per *r, unsigned ext, const struct user_data_want *w, size_t *voff,
                     size_t *vlen, const char **why)
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
		if (user_data_element(r, w->key, &is_wanted, &o, &n, why) < 0)
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
int gcc_parse_request(const uint8_t *buf, size_t off, size_t len, size_t *voff, size_t *vlen,
                      const char **why)
{
	struct per r;
	unsigned ext;

	if (connect_data(buf, off, len, true, &r, why) < 0 || ccr_header(&r, &ext, why) < 0)
		return -1;
	return user_data(&r, ext, &duca, voff, vlen, why);
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
int gcc_parse_response(const uint8_t *buf, size_t off, size_t len, size_t *voff, size_t *vlen,
                       const char **why)
{
	struct per r;
	unsigned ext_choice, choice, ext, has_user_data, node_id, res_ext, res;
	size_t n, at;

	if (connect_data(buf, off, len, false, &r, why) < 0)
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
	return user_data(&r, ext, &mcdn, voff, vlen, why);
}
