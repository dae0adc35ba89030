/* The state of md9-hostsim's host endpoint (endpoint.h), shared by its
 * parts: endpoint.c (sessions, their opening, start and stop),
 * endpoint_spec.c (SPEC), endpoint_traffic.c (source, sink, echo),
 * endpoint_ping.c, endpoint_measure.c (the sink's window and CPU time), and
 * below them all endpoint_core.c (the timer, ending a session,
 * publishing a turn). */
#ifndef HOSTSIM_ENDPOINT_STATE_H
#define HOSTSIM_ENDPOINT_STATE_H

#include "benchstat.h"
#include "endpoint.h"
#include "timespec.h" /* timespec_now_ns: the clock every part uses */

#include <stdint.h>

#define EP_MAX_SESSIONS 64
/* Bytes one session moves per wake-up before the others get their turn (its
 * own doorbell brings it back): 16 pipe packets. */
#define EP_BUDGET (256u << 10)
#define EP_IOV    64
/* Bytes a sink copies out between two looks at the ping session. */
#define EP_BATCH   (64u << 10)
#define EP_MAX_MSG 4096

enum ep_mode { EM_SOURCE, EM_SINK, EM_ECHO, EM_PING, EM_IDLE, EM_HS };
#define EP_NMODES 6
/* Indexed by enum ep_mode: the names SPEC and the log use. */
extern const char *const endpoint_mode_names[EP_NMODES];

enum ep_state {
	ES_UNUSED,
	ES_QUEUED, /* CreateSession sent (or queued); waiting for md9 to open the channel */
	ES_CC,     /* Connection Request written; reading the Connection Confirm */
	ES_RESP,   /* Connect-Initial written; reading the server's Connect-Response */
	ES_DATA,   /* the opening is done: the mode's traffic */
	ES_GONE,   /* closed */
};

enum ep_timer { ET_NONE, ET_WARMUP, ET_WINDOW, ET_GAP, ET_DONE };

struct ep_sess {
	struct endpoint *ep;
	unsigned idx;
	enum ep_mode mode;
	enum ep_state state;
	struct hostctl_session *hs;
	struct hostchan *hc;
	uint8_t pdu[16]; /* the first bytes of the server's CC, then Connect-Response */
	size_t pdulen;   /* bytes of that TPKT read so far */
	uint64_t t_start;
	uint64_t bytes; /* data-phase bytes read (sink), written (source) or echoed */
	uint64_t pos;   /* source: stream offset of the next byte; sink: of the next one read */
};

struct endpoint {
	struct ev_loop *loop;
	struct hostctl *ctl;
	struct ep_sess s[EP_MAX_SESSIONS];
	unsigned n;       /* sessions (hs: the one slot it reuses) */
	unsigned started; /* sessions started so far, in order */
	unsigned ready;   /* sessions in their data phase */
	bool all_ready;

	/* Options. */
	int count, warm, gap_ms;
	uint64_t slow_ns; /* ping: report round trips at least this long */
	size_t size;
	double warmup, window;
	char watch[256];
	bool verify;

	/* Timer: hs gaps, the sink's warm-up and window. */
	int tfd;
	struct ev_handler th;
	enum ep_timer tstate;
	uint64_t t0, b0[EP_MAX_SESSIONS];
	struct benchstat_watch w[16];
	int nw;

	/* ping */
	struct ep_sess *pinger;
	int ping_i;
	size_t ping_got;
	uint64_t ping_t0;
	uint64_t *rtt;

	/* hs */
	int hs_i;

	uint8_t pattern[PIPE_MAX_DATA + 256]; /* the source's stream from any offset mod 256 */
	uint8_t buf[EP_BUDGET];               /* where the sink copies what it reads */
};

/* Byte i of a source's stream (md9bench's pattern). */
static inline uint8_t endpoint_pattern(uint64_t i)
{
	return (uint8_t)(i * 131u + 7u);
}

/* endpoint_core.c: below every other endpoint file. */
/* Fire the endpoint's timer in s seconds, then do what. */
void endpoint_arm(struct endpoint *ep, double s, enum ep_timer what);
/* Log why and end the session (rescinds its channel). */
void endpoint_sess_end(struct ep_sess *s, const char *why);
/* Come back to this channel after the other sessions and the bus. */
void endpoint_self_doorbell(struct hostchan *hc);
/* Publish both directions; ring the guest if it needs it. */
void endpoint_commit(struct hostchan *hc);

/* endpoint_spec.c: parse SPEC (modified in place) into ep; -1 if bad. */
int endpoint_spec_parse(struct endpoint *ep, char *spec);

/* endpoint_traffic.c: a data-phase session's turn, up to EP_BUDGET bytes. */
void endpoint_traffic_source(struct ep_sess *s);
void endpoint_traffic_drain(struct ep_sess *s, bool count);
void endpoint_traffic_echo(struct ep_sess *s);

/* endpoint_ping.c */
void endpoint_ping_send(struct endpoint *ep);
void endpoint_ping_pump(struct ep_sess *s);
void endpoint_ping_poll(struct endpoint *ep);

/* endpoint_measure.c: the sink's window (after the warm-up) and its result. */
void endpoint_measure_start(struct endpoint *ep);
void endpoint_measure_end(struct endpoint *ep);
void endpoint_measure_maybe(struct endpoint *ep);

#endif
