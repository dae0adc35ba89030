/* MCS Connect-Initial / Connect-Response as RDP uses them (MS-RDPBCGR 2.2.1.3,
 * 2.2.1.4). A Connect-Initial PDU is
 *   TPKT header (4) | X.224 DT TPDU 02 F0 80 (3) |
 *   BER Connect-Initial ::= [APPLICATION 101] (tag 7F 65) {   (T.125 §7 part 2)
 *     callingDomainSelector OCTET STRING, calledDomainSelector OCTET STRING,
 *     upwardFlag BOOLEAN, targetParameters, minimumParameters,
 *     maximumParameters (DomainParameters SEQUENCEs),
 *     userData OCTET STRING }
 * and userData holds an ALIGNED-PER T.124 ConnectData (T.124 §8.7, §9.5):
 *   t124Identifier = OBJECT IDENTIFIER 0.0.20.124.0.1, connectPDU OCTET STRING
 *   = ConnectGCCPDU conferenceCreateRequest { conferenceName "1", ...,
 *   userData SET OF { key h221NonStandard "Duca", value OCTET STRING } }
 * and that value is the concatenation of client data blocks, each starting
 * with TS_UD_HEADER (u16le type, u16le length including the header;
 * MS-RDPBCGR 2.2.1.3.1).
 *
 * Return convention and *why as in tpkt.h. */
#ifndef MD9_MCS_H
#define MD9_MCS_H

#include <stddef.h>
#include <stdint.h>

/* TS_UD_HEADER types of client data blocks (MS-RDPBCGR 2.2.1.3.1). */
#define MCS_CS_CORE           0xC001
#define MCS_CS_SECURITY       0xC002
#define MCS_CS_NET            0xC003
#define MCS_CS_CLUSTER        0xC004
#define MCS_CS_MONITOR        0xC005
#define MCS_CS_MCS_MSGCHANNEL 0xC006
#define MCS_CS_MONITOR_EX     0xC008
#define MCS_CS_MULTITRANSPORT 0xC00A

/* TS_UD_CS_CORE.serverSelectedProtocol: u32le at this offset from the start
 * of the block (header included); present when the block is at least
 * MCS_CORE_SSP_MIN_LEN bytes long (MS-RDPBCGR 2.2.1.3.2). */
#define MCS_CORE_SSP_OFF     212
#define MCS_CORE_SSP_MIN_LEN 216

/* Where things are in a parsed Connect-Initial; all offsets from pdu[0]. */
struct mcs_connect_initial {
	size_t user_data_off; /* contents of the BER userData OCTET STRING (T.124 ConnectData) */
	size_t user_data_len;
	size_t blocks_off; /* the h221 "Duca" value: the client data blocks */
	size_t blocks_len;
	unsigned block_count;
	size_t core_off; /* TS_UD_CS_CORE block, header included */
	size_t core_len;
};

/* Parses a Connect-Initial: pdu must be exactly one complete TPKT
 * (len == TPKT length). Every length is checked against its enclosing one.
 * Requires exactly one TS_UD_CS_CORE block and exactly one "Duca" user data
 * set element. T.124 optional fields no RDP client sends (passwords,
 * privileges, description, caller id, conference name text) are rejected
 * as unsupported. 1 or -1. */
int mcs_parse_connect_initial(const uint8_t *pdu, size_t len, struct mcs_connect_initial *out,
                              const char **why);

/* Sets TS_UD_CS_CORE.serverSelectedProtocol in the Connect-Initial pdu
 * (exactly one complete TPKT, see mcs_parse_connect_initial) to protocol.
 * 1: set, *old_value (may be NULL) holds the previous value, at most those 4
 * bytes changed. 0: the core block is shorter than 216 bytes, so the field is
 * absent; nothing changed (*why says so). -1: malformed; nothing changed.
 * Never changes any size. */
int mcs_set_server_selected_protocol(uint8_t *pdu, size_t len, uint32_t protocol,
                                     uint32_t *old_value, const char **why);

/* 1 when pdu starts with a valid TPKT header, an X.224 DT TPDU (02 F0 80)
 * and the BER tag of MCS Connect-Response (7F 66, [APPLICATION 102]); only
 * these 9 bytes are needed. 0 otherwise (including when len < 9). */
int mcs_is_connect_response(const uint8_t *pdu, size_t len);

#endif
