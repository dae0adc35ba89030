/* One Enhanced Session: a data channel (pipe over the ring pair) and a
 * connection to the local RDP server, with the security adapter in front of
 * the relay until the MCS Connect-Initial has passed.
 *
 * A session knows only what its session_env gives it: the loop, its own copy
 * of the settings, and two callbacks to whoever keeps the registry (the
 * daemon). */
#ifndef MD9_SESSION_H
#define MD9_SESSION_H

#include "evloop.h"
#include "settings.h"
#include "status.h"
#include "transport.h"

#include <stdint.h>

struct session;
struct pace;

struct session_env {
	struct ev_loop *loop;
	struct session_settings set; /* the session's own: a reload does not reach it */
	uint64_t id;                 /* for the log and the status */
	void *owner;                 /* passed to the callbacks */
	struct pace *pace;           /* shared by the daemon's sessions (pace.h); NULL: none */
	/* Run me again soon: work is left after the relay budget, or TLS holds
	 * decrypted bytes the socket will not announce. The owner calls
	 * session_resume from its loop, once per request. */
	void (*defer)(void *owner);
	/* I am gone: called once, from session_close, as the session is freed. */
	void (*gone)(void *owner);
};

/* A session on an open data channel; takes ownership of ch. NULL when out
 * of memory (ch closed, logged). Nothing runs until session_start. */
struct session *session_new(const struct session_env *env, struct md9_channel *ch);
/* Connect to the server and run: may end the session at once (gone). */
void session_start(struct session *s);
/* The deferred run the session asked for (env->defer). */
void session_resume(struct session *s);
/* End the session: log the reason and the counters, close both sides. */
void session_close(struct session *s, const char *reason);
/* The host rescinded the session's channel: it is gone (transport.h: its
 * rings are not touched again), and the session closes. */
void session_rescinded(struct session *s);
/* The session as `md9 status` shows it (its counters coarse: status.h). */
void session_snapshot(struct session *s, struct status_session *out);

#endif
