/* md9 doctor's look at the configured RDP server, made the way md9 itself
 * will talk to it: the negotiation md9's sessions run (negotiation.h), with
 * the probe as the host: the seed's Connection Request (src/rdp/mcs_seed.h)
 * rewritten by md9's adapter for the security mode, the server's Connection
 * Confirm judged by the adapter (with auto's second try for standard RDP
 * security), md9's TLS when the adapter says so, the seed's MCS
 * Connect-Initial patched as md9 patches the host's, then the server's answer
 * judged by the adapter; then md9 hangs up. Blocking, bounded by a timeout. */
#ifndef MD9_PROBE_H
#define MD9_PROBE_H

#include "adapter.h"
#include "backend.h"
#include "tls.h"

#include <stdbool.h>
#include <stdint.h>

enum md9_probe_verdict {
	MD9_PROBE_TLS,          /* ok: md9 does TLS with the server */
	MD9_PROBE_PLAIN,        /* ok: standard RDP security without encryption */
	MD9_PROBE_VMCONNECT,    /* ok: passthrough, SSL selected, plaintext answered */
	MD9_PROBE_ENCRYPTS,     /* FAIL: standard RDP security with encryption */
	MD9_PROBE_NLA,          /* FAIL: the server requires NLA */
	MD9_PROBE_NO_VMCONNECT, /* FAIL: passthrough without a vmconnect mode */
	MD9_PROBE_REFUSED,      /* FAIL: the server refused md9's mode */
	MD9_PROBE_ERROR,        /* FAIL: unreachable, timeout, malformed answer */
};

struct md9_probe_result {
	enum md9_probe_verdict verdict;
	uint32_t asked;    /* what md9 asked the server for (last try) */
	uint32_t selected; /* what it selected (valid once a CC selected something) */
	bool retried;      /* auto asked a second time, for standard RDP security */
	char tls[96];      /* "TLSv1.3 TLS_AES_256_GCM_SHA384" when md9 did TLS */
	char why[256];     /* what was found, unless ok */
	const char *fix;   /* unless ok: what to change, or NULL */
};

/* Runs the probe against b in mode; pin as md9 run uses it (may be NULL).
 * Returns true when md9 can serve sessions with this server and mode. */
bool md9_probe_server(const struct md9_backend *b, enum md9_security mode,
                      const struct md9_tls_pin *pin, int timeout_ms, struct md9_probe_result *out);
/* "TLS", "standard RDP security without encryption", ... */
const char *md9_probe_verdict_name(enum md9_probe_verdict v);

#endif
