/* Inside a session: what session.c (its life and the relay) and
 * session_negotiate.c (the negotiation's I/O) share, below them both: the
 * session's state, ending it and arming its deadline (session_core.c).
 * Only session*.c include this; everyone else sees session.h. */
#ifndef MD9_SESSION_CORE_H
#define MD9_SESSION_CORE_H

#include "negotiation.h"
#include "pipe.h"
#include "session.h"
#include "upstream.h"

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* The session's state as the log, `md9 status` and its timeout name it.
 * s->state holds SS_NEGOTIATE, SS_RELAY or SS_DRAIN; the finer states of the
 * negotiation come from it and the connect (state_of). */
enum session_state {
	SS_CONNECT,   /* connecting to the server and learning who it is; the host's
	               * CR may arrive meanwhile */
	SS_NEGOTIATE, /* the X.224 negotiation (the host's CR, the server's CC) */
	SS_TLS,       /* md9's TLS handshake with the server */
	SS_WAIT_MCS,  /* waiting for the host's MCS Connect-Initial */
	SS_WAIT_RESP, /* Connect-Initial sent; waiting for the server's Connect-Response */
	SS_RELAY,     /* bytes flow both ways untouched */
	SS_DRAIN,     /* the server ended: let the host read what is queued (and, after an
	               * orderly end, md9's end of stream), then close */
};

/* A relaying run that moves at most this much, both ways, and leaves no
 * work behind is interactive traffic (pace.h)... */
#define SESSION_INTERACTIVE_PASS 16384
/* ...unless the session moved more than that in one run less than this long
 * ago: a bulk transfer whose source is momentarily slower than md9 makes
 * small runs too (16 sessions from one server: most of them), and counting
 * those as interactive made every turn short and md9 poll while busy. */
#define SESSION_BULK_HOLD_NS 10000000ull
/* Bytes a session queued for another turn lets pile up in the rings before
 * it publishes them to the host (session.c, session_drain). */
#define SESSION_COMMIT_BATCH (256u << 10)

/* Bytes the negotiation handed out for one side, not all written yet. */
struct pending {
	const uint8_t *p; /* in the negotiation's buffers */
	size_t len, off;
};

struct session {
	struct session_env env;
	/* session.c's handlers, set by session_new: the negotiation's connect,
	 * its auth retry and the deadline reach the session's run through
	 * these, so no file below session.c calls up into it. */
	ev_fn on_socket;                /* the server socket's events */
	ev_timer_fn on_deadline;        /* the negotiation's, then the drain's deadline */
	void (*run)(struct session *s); /* run the state machine now */
	bool deferred;                  /* a deferred run was asked for and has not happened yet */
	struct md9_channel *ch;
	struct pipe_rx in;  /* host -> guest ring */
	struct pipe_tx out; /* guest -> host ring */
	struct upstream up; /* the server */
	/* The server is authenticated (peerauth.h) after the connect and
	 * before md9 writes to it; a tcp server that has not accept()ed yet is
	 * asked again on auth_timer. */
	bool authorized;
	unsigned auth_delay_ms;
	struct ev_timer auth_timer;
	struct ev_handler ch_h;
	struct ev_timer timer;
	enum session_state state;
	struct timespec started;

	/* Until relaying has started and its last bytes are out. */
	struct negotiation *nego;
	struct negotiation_result result; /* what it settled, once it is gone */
	struct pending to_host;           /* what it owes the server is in up */

	bool host_full_wait; /* server -> ring blocked on the TX ring */
	/* The server socket may hold bytes: set by every socket event, cleared
	 * when a read comes up short. While it is clear a wake-up from the host
	 * does not try the socket (level-triggered epoll reports new bytes). */
	bool server_readable;
	/* Bytes the current run relayed (both ways), and whether its last run
	 * that moved anything moved more than SESSION_INTERACTIVE_PASS: while
	 * some session is interactive, a bulk session's events wait for its
	 * turn (pace.h). */
	size_t pass_moved;
	bool bulk;
	uint64_t bulk_until_ns; /* CLOCK_MONOTONIC: bulk at least until then */
	bool refused;        /* pass the server's refusal to the host, then drain */
	bool send_eof;       /* SS_DRAIN ends with an end-of-stream packet (orderly) */
	bool eof_sent;       /* it is in the TX ring */
	bool server_shut;    /* the host ended its stream: server half-closed */
	bool server_hup;     /* ...and the server's FIN came: no socket events any more */
	uint64_t bytes_h2s, bytes_s2h;
	struct status_counters shown; /* what `md9 status` shows of them */
	const char *close_reason;
	char reason_buf[256];
};

/* The negotiation gets input only once the bytes it handed out are written:
 * they live in the buffers the input goes to (negotiation.h). */
static inline bool session_core_owes_nothing(const struct session *s)
{
	return !s->up.owed_len && !s->to_host.len;
}

/* Record why the session ends (the first reason stays); session_run closes
 * it before returning. Returns -1. */
int session_core_end(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The session's one deadline: the negotiation's, then the drain's. */
void session_core_arm_timer(struct session *s, unsigned ms);

#endif
