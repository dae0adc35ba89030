/* The RDP security adapter (protocol.md §7): the host does TLS/CredSSP
 * with the real client and then sends the MCS Connect-Initial in plaintext,
 * even when the guest's Connection Confirm selected TLS. A stock server that
 * selected TLS then waits for a ClientHello and fails (the seed's bug). The
 * adapter decides, per session, what md9 asks the server for and whether md9
 * itself becomes the server's TLS client.
 *
 *  rdp         ask for PROTOCOL_RDP: standard RDP security, no TLS.
 *  passthrough the host's request unmodified (servers with a vmconnect mode).
 *  tls         ask for PROTOCOL_SSL; md9 is the TLS client; the server must select SSL.
 *  auto        ask for PROTOCOL_SSL; TLS if the server selects it, plain if
 *              it selects RDP; when it refuses SSL, retry once asking for RDP.
 *              With tls_pin set (require_tls) auto is tls: a server that
 *              will not do TLS cannot show the pinned certificate.
 *
 * In every mode the client core data's serverSelectedProtocol is set to what
 * the server selected, and the server's Connection Confirm goes to the host
 * unchanged, except that a host whose Connection Request carried no
 * RDP_NEG_REQ gets the legacy form without rdpNegData (MS-RDPBCGR 3.3.5.3.2).
 *
 * What cannot work is found before the host depends on the server, and named
 * with its fix (*why and adapter.fix):
 *  - NLA: the server requires CredSSP (RDP_NEG_FAILURE
 *    HYBRID_REQUIRED_BY_SERVER, or it selects HYBRID/HYBRID_EX). md9 has no
 *    credentials: the host authenticated the user and passes none on.
 *  - encryption: the server's MCS Connect-Response has a TS_UD_SC_SEC1 with
 *    encryptionMethod or encryptionLevel not 0 (MS-RDPBCGR 2.2.1.4.3): it
 *    would encrypt with standard RDP security, which the host does not do
 *    (its client fails at the Demand Active PDU).
 *  - passthrough to a server that selected SSL but has no vmconnect mode: it
 *    does not answer the host's plaintext Connect-Initial with a
 *    Connect-Response. */
#ifndef MD9_ADAPTER_H
#define MD9_ADAPTER_H

#include "security.h"
#include "x224.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum adapter_verdict {
	ADAPTER_PLAIN,     /* relay as is */
	ADAPTER_TLS,       /* md9 does TLS to the server, then relays */
	ADAPTER_RETRY_RDP, /* reconnect to the server and ask for PROTOCOL_RDP */
	ADAPTER_REFUSED,   /* the server refused; pass its CC to the host, then end */
	ADAPTER_FAIL,      /* cannot work in this mode; end the session (*why) */
};

/* Why a session cannot work, for md9 doctor's verdict. */
enum adapter_cause {
	ADAPTER_CAUSE_NONE,
	ADAPTER_CAUSE_NLA,          /* the server requires CredSSP */
	ADAPTER_CAUSE_ENCRYPTS,     /* standard RDP security with encryption */
	ADAPTER_CAUSE_NO_VMCONNECT, /* passthrough, SSL selected, no Connect-Response */
	ADAPTER_CAUSE_MODE,         /* the server refused or chose against md9's mode */
	ADAPTER_CAUSE_PROTOCOL,     /* malformed or unexpected answer */
};

struct adapter {
	enum md9_security mode;
	bool require_tls; /* tls_pin is set: TLS to the server or nothing (auto never falls back) */
	bool retried;            /* auto already fell back to RDP */
	bool host_neg_req;       /* the host's CR carried RDP_NEG_REQ */
	uint32_t host_requested; /* the host's requestedProtocols (0 when absent) */
	uint32_t asked;          /* what md9 asked the server for */
	uint32_t selected;       /* the server's choice */
	uint32_t failure_code;   /* RDP_NEG_FAILURE code, when refused */
	const char *fix;         /* with ADAPTER_REFUSED/FAIL: what to change, or NULL */
	enum adapter_cause cause; /* with ADAPTER_REFUSED/FAIL */
	char why_buf[224];        /* *why points here when it carries values */
};

void adapter_init(struct adapter *a, enum md9_security mode);
/* The host's Connection Request (its bytes, and what x224_parse_cr made of
 * them) in, the one for the server out. */
int adapter_rewrite_cr(struct adapter *a, const uint8_t *cr, const struct x224_cr *req,
                       uint8_t *out, size_t cap, size_t *out_len, const char **why);
/* The server's complete Connection Confirm: what to do next. */
enum adapter_verdict adapter_on_cc(struct adapter *a, const struct x224_cc *cc, const char **why);
/* The Connection Confirm the host gets for the server's (one complete CC):
 * unchanged, or the legacy form when the host sent no RDP_NEG_REQ. 0 or -1. */
int adapter_cc_for_host(const struct adapter *a, const uint8_t *cc, size_t len, uint8_t *out,
                        size_t cap, size_t *out_len, const char **why);
/* The host's MCS Connect-Initial (one complete TPKT), patched in place. */
int adapter_fix_connect_initial(struct adapter *a, uint8_t *pdu, size_t len, const char **why);
/* The server's first PDU after the Connect-Initial (one complete TPKT).
 * ADAPTER_PLAIN: a Connect-Response md9 can relay. ADAPTER_FAIL: end the
 * session without passing it on (*why, a->fix); ADAPTER_REFUSED: it is not a
 * Connect-Response (e.g. a Disconnect-Provider-Ultimatum): pass it on, then
 * end (*why, a->fix). */
enum adapter_verdict adapter_on_server_pdu(struct adapter *a, const uint8_t *pdu, size_t len,
                                           const char **why);
/* The server closed (or broke) the connection before a Connect-Response:
 * the reason, and a->fix. */
const char *adapter_no_connect_response(struct adapter *a);

#endif
