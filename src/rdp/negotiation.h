/* The start of an Enhanced Session's RDP connection, between the host and
 * the local server, as md9's security adapter (adapter.h) runs it: the
 * X.224 Connection Request and Confirm (MS-RDPBCGR 2.2.1.1, 2.2.1.2), md9's
 * own TLS with the server when the adapter chose it, and the MCS
 * Connect-Initial (2.2.1.3). From then on md9 relays bytes untouched.
 *
 * Bytes in, actions out. The caller (relay/session.c) does every read and
 * write: it reads host bytes into negotiation_host_room and reports them with
 * negotiation_host_in, the same for the server's, says when the server
 * connection is up and when md9's TLS handshake is done, and carries out the
 * actions negotiation_action hands out, in order. While actions wait, the
 * negotiation takes no input (negotiation_wants_* say false), and the caller
 * gives it none before the data of those it took is written: the data lives
 * in the buffers the next input goes to.
 *
 * Phases, in order:
 *   REQUEST          host bytes until the Connection Request is complete; it
 *                    is parsed once and rewritten for the server by the
 *                    adapter, and goes out (TO_SERVER) once the server is
 *                    connected (negotiation_server_connected: nothing is
 *                    written to the server before it)
 *   CONFIRM          server bytes until its Connection Confirm is complete
 *                    (a server response step); the adapter decides:
 *                    TO_HOST (the CC for the host: as it came, or without
 *                    rdpNegData when the host's request had none) +
 *                    START_TLS; TO_HOST (that CC, then whatever followed
 *                    it); RECONNECT (auto, the server refused TLS: connect
 *                    again, the request asks for standard RDP security);
 *                    TO_HOST (the CC) + REFUSED; FAIL (NLA, a mode mismatch)
 *   TLS              until negotiation_tls_done
 *   CONNECT_INITIAL  host bytes until the MCS Connect-Initial is complete; it
 *                    is patched (serverSelectedProtocol) and goes out with
 *                    any host bytes after it (TO_SERVER)
 *   CONNECT_RESPONSE server bytes until one whole TPKT (the other server
 *                    response step); the adapter judges it: a Connect-Response
 *                    md9 can relay goes to the host (TO_HOST) and RELAY;
 *                    any other PDU, or the end of the connection, goes to
 *                    the host and REFUSED; standard RDP security with
 *                    encryption or a malformed answer: FAIL
 * Every REFUSED and FAIL is logged with its cause and fix (adapter.fix).
 *
 * The negotiation owns its buffers: an action's data stays valid until
 * negotiation_free, which the caller calls once relaying has started and
 * that data is written. Each input is bounded (NEGOTIATION_BUF bytes without
 * a complete PDU end it); every byte is checked by the parsers (x224.h,
 * tpkt.h, mcs.h) before it is used. */
#ifndef MD9_NEGOTIATION_H
#define MD9_NEGOTIATION_H

#include "adapter.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes held from each side: a Connection Request, Confirm and MCS
 * Connect-Initial are each one TPKT (at most 65535 bytes). */
#define NEGOTIATION_BUF 65536

enum negotiation_phase {
	NEGO_REQUEST,
	NEGO_CONFIRM,
	NEGO_TLS,
	NEGO_CONNECT_INITIAL,
	NEGO_CONNECT_RESPONSE,
	NEGO_DONE,  /* relaying */
	NEGO_ENDED, /* refused or failed */
};

enum negotiation_act {
	NEGO_TO_SERVER, /* write data, len to the server */
	NEGO_TO_HOST,   /* write data, len to the host */
	NEGO_RECONNECT, /* close the server connection, connect again */
	NEGO_START_TLS, /* become the server's TLS client */
	NEGO_REFUSED,   /* the server refused: end (why) once the host has read its answer */
	NEGO_FAIL,      /* end the session (why) */
	NEGO_RELAY,     /* done: relay from here on */
};

struct negotiation_action {
	enum negotiation_act act;
	const uint8_t *data;
	size_t len;
	const char *why;
};

/* What was negotiated, for the log and `md9 status`. */
struct negotiation_result {
	enum md9_security mode;
	uint32_t host_requested;  /* the host's requestedProtocols */
	uint32_t asked;           /* what md9 asked the server for */
	uint32_t selected;        /* the server's choice, once accepted: */
	bool selected_known;      /* its Connection Confirm was accepted */
	enum adapter_cause cause; /* after REFUSED or FAIL: why it cannot work (adapter.h), */
	const char *fix;          /* and what to change, or NULL */
};

struct negotiation;

/* mode and require_tls (a tls_pin is set: never without TLS) as the
 * adapter's; id: the session's, for log lines. NULL when out of memory. */
struct negotiation *negotiation_new(enum md9_security mode, bool require_tls, uint64_t id);
void negotiation_free(struct negotiation *n);
/* The caller reports the outcome itself (md9 doctor's probe): no log lines. */
void negotiation_quiet(struct negotiation *n);
enum negotiation_phase negotiation_phase(const struct negotiation *n);
void negotiation_result(const struct negotiation *n, struct negotiation_result *out);

/* Host bytes: does it want some now, where they go (*room bytes at most),
 * how many were put there. */
bool negotiation_wants_host(const struct negotiation *n);
uint8_t *negotiation_host_room(struct negotiation *n, size_t *room);
void negotiation_host_in(struct negotiation *n, size_t len);
/* Server bytes, the same way; negotiation_server_closed when the server
 * ended the connection (err 0) or reading failed (err: an errno). */
bool negotiation_wants_server(const struct negotiation *n);
uint8_t *negotiation_server_room(struct negotiation *n, size_t *room);
void negotiation_server_in(struct negotiation *n, size_t len);
void negotiation_server_closed(struct negotiation *n, int err);

/* The (new) server connection is up; nothing has been written to it. */
void negotiation_server_connected(struct negotiation *n);
/* md9's TLS handshake with the server is done (START_TLS). */
void negotiation_tls_done(struct negotiation *n);

/* The next action, NULL when there is none; negotiation_pop once done. */
const struct negotiation_action *negotiation_action(const struct negotiation *n);
void negotiation_pop(struct negotiation *n);

#endif
