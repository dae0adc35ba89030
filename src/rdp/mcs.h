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

#include <stdbool.h>
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

/* TS_UD_HEADER types of server data blocks (MS-RDPBCGR 2.2.1.4). */
#define MCS_SC_CORE           0x0C01
#define MCS_SC_SECURITY       0x0C02
#define MCS_SC_NET            0x0C03
#define MCS_SC_MCS_MSGCHANNEL 0x0C04
#define MCS_SC_MULTITRANSPORT 0x0C08

/* TS_UD_SC_SEC1.encryptionMethod and encryptionLevel (MS-RDPBCGR 2.2.1.4.3).
 * With TLS or CredSSP both are 0; standard RDP security with level NONE also
 * has both 0 (and then no serverRandom / serverCertificate). */
#define MCS_ENCRYPTION_METHOD_NONE             0x00000000u
#define MCS_ENCRYPTION_METHOD_40BIT            0x00000001u
#define MCS_ENCRYPTION_METHOD_128BIT           0x00000002u
#define MCS_ENCRYPTION_METHOD_56BIT            0x00000008u
#define MCS_ENCRYPTION_METHOD_FIPS             0x00000010u
#define MCS_ENCRYPTION_LEVEL_NONE              0
#define MCS_ENCRYPTION_LEVEL_LOW               1
#define MCS_ENCRYPTION_LEVEL_CLIENT_COMPATIBLE 2
#define MCS_ENCRYPTION_LEVEL_HIGH              3
#define MCS_ENCRYPTION_LEVEL_FIPS              4

/* A parsed MCS Connect-Response (T.125 §7 part 2, MS-RDPBCGR 2.2.1.4):
 *   TPKT | X.224 DT 02 F0 80 | BER Connect-Response ::= [APPLICATION 102]
 *   (7F 66) { result ENUMERATED, calledConnectId INTEGER, domainParameters,
 *   userData OCTET STRING }
 * userData holds a T.124 ConnectData whose connectPDU is a
 * ConferenceCreateResponse { nodeID, tag, result, userData SET OF { key
 * h221NonStandard "McDn", value = the server data blocks } }.
 * All offsets from pdu[0]. */
struct mcs_connect_response {
	unsigned result;   /* T.125 Result; 0 is rt-successful */
	size_t blocks_off; /* the "McDn" value (0 when result != 0 and no user data) */
	size_t blocks_len;
	unsigned block_count;
	bool has_core;     /* TS_UD_SC_CORE */
	uint32_t version;  /* its version */
	bool has_security; /* TS_UD_SC_SEC1 */
	uint32_t encryption_method;
	uint32_t encryption_level;
	uint32_t server_random_len; /* 0 when absent (method and level 0) */
	uint32_t server_cert_len;
};

/* Parses a Connect-Response: pdu must be exactly one complete TPKT (len ==
 * TPKT length). Every length is checked against its enclosing one. With
 * result rt-successful the GCC ConferenceCreateResponse must succeed and
 * carry exactly one "McDn" element whose blocks tile it, with at most one
 * TS_UD_SC_CORE and exactly one TS_UD_SC_SEC1 (MS-RDPBCGR 2.2.1.4.3 makes
 * it mandatory). The T.124 connectPDU length is not used: Windows, xrdp and
 * FreeRDP all write 42 (0x2A) whatever the real size (MS-RDPBCGR 4.1.4 shows
 * the same), so the BER userData length bounds the PER walk. 1 or -1. */
int mcs_parse_connect_response(const uint8_t *pdu, size_t len, struct mcs_connect_response *out,
                               const char **why);

/* Static names for logs: "NONE", "40BIT", "128BIT", "56BIT", "FIPS", or
 * "UNKNOWN"; levels "NONE", "LOW", "CLIENT_COMPATIBLE", "HIGH", "FIPS". */
const char *mcs_encryption_method_name(uint32_t method);
const char *mcs_encryption_level_name(uint32_t level);

/* 1 when pdu starts with a valid TPKT header, an X.224 DT TPDU (02 F0 80)
 * and the BER tag of MCS Connect-Response (7F 66, [APPLICATION 102]); only
 * these 9 bytes are needed. 0 otherwise (including when len < 9). */
int mcs_is_connect_response(const uint8_t *pdu, size_t len);

#endif
