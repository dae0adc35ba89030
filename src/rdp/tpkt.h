/* TPKT framing (RFC 1006 §6, ITU-T T.123 §8), as used by RDP slow-path PDUs
 * (MS-RDPBCGR 2.2.1.1 tpktHeader): u8 version = 3, u8 reserved, u16
 * big-endian length of the whole packet including these 4 bytes.
 *
 * All parsers in tpkt.h, x224.h and mcs.h are pure functions: no I/O, no
 * state, never read past the given length. Return convention: 1 complete and
 * valid, 0 more bytes needed, -1 malformed. On 0 and -1, *why (when why is
 * not NULL) points to a static, human-readable reason; on 1 it is not
 * touched. */
#ifndef MD9_TPKT_H
#define MD9_TPKT_H

#include <stddef.h>
#include <stdint.h>

#define TPKT_HEADER_LEN 4
#define TPKT_VERSION    3
/* Header plus the smallest X.224 TPDU RDP carries (class 0 DT: LI, code, EOT). */
#define TPKT_MIN_LEN 7
#define TPKT_MAX_LEN 65535

/* 1 and *pdu_len (TPKT_MIN_LEN..TPKT_MAX_LEN) when buf starts with a valid TPKT
 * header; only the 4 header bytes are needed, the rest of the PDU may still be
 * missing. 0 when len < 4. -1 when the version is not 3 (e.g. an RDP fast-path
 * PDU) or the length is below TPKT_MIN_LEN. The reserved byte is ignored, as
 * FreeRDP and xrdp do. pdu_len may be NULL. */
int tpkt_pdu_length(const uint8_t *buf, size_t len, size_t *pdu_len, const char **why);

#endif
