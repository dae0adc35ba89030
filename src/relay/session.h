/* One Enhanced Session: a data channel (pipe over the ring pair) and a
 * connection to the local RDP server, with the security adapter in front of
 * the relay until the MCS Connect-Initial has passed. */
#ifndef MD9_SESSION_H
#define MD9_SESSION_H

#include "adapter.h"
#include "daemon.h"
#include "evloop.h"
#include "pipe.h"
#include "stream.h"
#include "transport.h"

#include <stdint.h>
#include <time.h>

/* Host bytes md9 holds before the relay starts: a Connection Request and an
 * MCS Connect-Initial are each one TPKT (at most 65535 bytes). */
#define SESSION_NEGO_BUF 65536

enum session_state {
	SS_CONNECT,   /* connecting to the server; the host's CR may arrive meanwhile */
	SS_NEGOTIATE, /* CR sent to the server, waiting for its CC */
	SS_TLS,       /* md9's TLS handshake with the server */
	SS_WAIT_MCS,  /* waiting for the host's MCS Connect-Initial */
	SS_WAIT_RESP, /* Connect-Initial sent; waiting for the server's Connect-Response */
	SS_RELAY,     /* bytes flow both ways untouched */
	SS_DRAIN,     /* the server ended: let the host read what is queued, then close */
};

struct session {
	struct session *next, *next_deferred;
	bool deferred;
	struct daemon *d;
	struct md9_channel *ch;
	struct pipe_rx in;  /* host -> guest ring */
	struct pipe_tx out; /* guest -> host ring */
	struct md9_stream *server;
	int sock;
	struct ev_handler ch_h, sock_h, timer_h;
	int timerfd;
	enum session_state state;
	struct adapter adapter;
	uint64_t id;
	struct timespec started;

	/* Negotiation buffers: host bytes (CR, then Connect-Initial) and server
	 * bytes (CC); q_* hold bytes still to be written to each side. */
	uint8_t *hbuf;
	size_t hlen;
	size_t cr_len;
	uint8_t *sbuf;
	size_t slen;
	uint8_t *q_server;
	size_t q_server_len, q_server_off;
	uint8_t *q_host;
	size_t q_host_len, q_host_off;

	/* The server is authenticated (peerauth.h) after connect() and before
	 * md9 writes to it; a tcp server that has not accept()ed yet is asked
	 * again on authfd's timer. */
	bool connected, auth_wait;
	unsigned auth_delay_ms;
	int authfd;
	struct ev_handler auth_h;

	bool server_writable_wait; /* ring -> server blocked on the socket */
	bool host_full_wait;       /* server -> ring blocked on the TX ring */
	bool refused;              /* pass the server's refusal to the host, then drain */
	uint64_t bytes_h2s, bytes_s2h;
	/* What `md9 status` shows of them (status.c: coarse on purpose). */
	uint64_t shown_h2s, shown_s2h;
	struct timespec shown_at;
	uint32_t last_sock_events;
	const char *close_reason;
	char reason_buf[256];
};

/* Start a session on an open data channel (takes ownership of ch). -1: it
 * could not start; ch was closed and the reason logged. 0: started (it may
 * have ended already: the caller keeps no pointer). */
int session_new(struct daemon *d, struct md9_channel *ch);
/* Run the session's state machine (events arrived, or deferred work). */
void session_run(struct session *s);
/* End the session: log the reason and the counters, close both sides. */
void session_close(struct session *s, const char *reason);

#endif
