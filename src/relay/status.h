/* `md9 status`: the daemon answers on a UNIX stream socket (status_socket,
 * default /run/md9/status.sock, mode 0660, group status_group = md9-status)
 * from its epoll loop. Byte counters are coarse (status.c: 64 KiB, at most
 * every 4 s) so that polling them shows no typing rhythm.
 *
 * Protocol: the client connects and sends one line, "status" (text) or
 * "status json"; md9 answers and closes. One request per connection; every
 * socket is non-blocking; a client has STATUS_TIMEOUT_MS to send its request
 * and read the answer; at most STATUS_MAX_CLIENTS at once; an answer is at
 * most STATUS_MAX_OUTPUT bytes (cut with a note beyond). The client side is
 * ops/status_query.c.
 *
 * What the answer says comes from a snapshot: plain values the daemon and
 * each session fill in (daemon.c, session_snapshot) when a request arrives.
 * This file formats it and knows nothing else of either. */
#ifndef MD9_STATUS_H
#define MD9_STATUS_H

#include "control.h"
#include "evloop.h"
#include "guid.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define STATUS_TIMEOUT_MS  2000
#define STATUS_MAX_CLIENTS 16
#define STATUS_MAX_REQUEST 64
#define STATUS_MAX_OUTPUT  (256u * 1024u)

/* One session as the status answer shows it. Strings are static or live at
 * least until the answer is formatted. */
struct status_session {
	uint64_t id;
	struct md9_guid instance; /* its data channel */
	const char *state;        /* "connecting", ..., "relaying", "draining" */
	double age_s;
	uint64_t bytes_h2s, bytes_s2h; /* coarse: md9_status_counters */
	const char *mode;     /* its security mode */
	const char *selected; /* the server's choice; NULL while not known */
	bool refused;         /* the server refused; its answer went to the host */
};

struct status_snapshot {
	const char *transport;
	const char *server;   /* what new sessions connect to */
	const char *security; /* and their mode */
	enum ctrl_state ctrl;
	bool ctrl_offered;
	unsigned ctrl_failures;
	const char *ctrl_why;  /* CTRL_WAIT_READY: why its device is not ready */
	uint32_t host_version; /* major | minor << 16; meaningful in CTRL_READY */
	uint64_t sessions_total;
	unsigned max_sessions;
	const struct status_session *sessions;
	unsigned nsessions; /* open now */
};

/* A session's byte counters as `md9 status` may show them: coarse on
 * purpose (status.c says how), so that polling them shows no typing
 * rhythm. Each session keeps one (zeroed) and passes its exact counters at
 * every snapshot; c->h2s and c->s2h are then what to show. */
struct status_counters {
	uint64_t h2s, s2h;
	struct timespec at;
};
void md9_status_counters(struct status_counters *c, uint64_t h2s, uint64_t s2h,
                         const struct timespec *now);

/* Fills *out (zeroed by the caller) at the time of a request. */
typedef void (*status_snapshot_fn)(void *arg, struct status_snapshot *out);

struct md9_status;

/* Listen on `path`, owned by `group` when it exists, and serve from loop,
 * asking snapshot(arg) for each answer. NULL when it cannot (logged as a
 * warning: md9 runs without a status socket). */
struct md9_status *md9_status_start(struct ev_loop *loop, const char *path, const char *group,
                                    status_snapshot_fn snapshot, void *arg);
/* Close every connection and the socket, and remove it. NULL is fine. */
void md9_status_stop(struct md9_status *st);

/* The answer for a snapshot, malloc'ed, NUL-terminated; *len excludes the NUL. */
char *md9_status_format(const struct status_snapshot *snap, double uptime_s, bool json,
                        size_t *len);

#endif
