/* A session's side of its negotiation (rdp/negotiation.h): the
 * negotiation decides, this file does the I/O it asks for -- reading the
 * host's and the server's bytes into it, writing what it hands out, the
 * connect and md9's TLS handshake -- with the session's own settings. */
#include "session_negotiate.h"

#include "log.h"
#include "peerauth.h"
#include "tls.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>

/* Host bytes the negotiation wants. 1: some arrived, 0: none, <0: ends. */
static int read_host(struct session *s)
{
	size_t room;
	uint8_t *at = negotiation_host_room(s->nego, &room);
	ssize_t n = pipe_rx_read(&s->in, at, room);

	if (n < 0)
		return session_core_end(s, "malformed data from the host: %s", s->in.error);
	if (n == 0 && s->in.eof)
		return session_core_end(
		    s, "the host ended its stream before the RDP negotiation finished");
	if (n == 0)
		return 0;
	s->bytes_h2s += (size_t)n;
	negotiation_host_in(s->nego, (size_t)n);
	return 1;
}

int session_negotiate_flush(struct session *s)
{
	int rc = upstream_flush(&s->up);

	return rc < 0 ? session_core_end(s, "writing to the server failed: %s", strerror(-rc)) : rc;
}

/* Server bytes the negotiation wants. 1: some arrived (or EOF), 0: none, <0: ends. */
static int read_server(struct session *s)
{
	size_t room;
	uint8_t *at = negotiation_server_room(s->nego, &room);
	ssize_t n = upstream_read(&s->up, at, room);

	if (n == -EAGAIN)
		return 0;
	if (n <= 0)
		negotiation_server_closed(s->nego, (int)-n);
	else
		negotiation_server_in(s->nego, (size_t)n);
	return 1;
}

int session_negotiate_connect(struct session *s)
{
	int rc = upstream_connect(&s->up, s->env.loop, &s->env.set.backend, s->on_socket, s);

	s->authorized = false;
	s->auth_delay_ms = 0;
	ev_timer_cancel(s->env.loop, &s->auth_timer);

	return rc < 0 ? session_core_end(s, "cannot connect to the server %s: %s",
	                                 s->env.set.backend.spec, strerror(-rc))
	              : 0;
}

/* Nothing tells md9 when a tcp server accept()s: look again after 1 ms,
 * doubling up to this, until the negotiation timeout ends the session. */
#define AUTH_RETRY_MAX_MS 64

static void on_auth_timer(struct ev_timer *t)
{
	struct session *s = t->arg;

	s->run(s);
}

/* Who the server is (peerauth.h), before the negotiation lets the first byte
 * of the host's stream out to it. 1: an allowed user serves it; 0: not known
 * yet (the timer asks again); <0: refused, the session ends. */
static int check_server(struct session *s)
{
	char why[400];
	uid_t uid;
	int rc = md9_peerauth_check(s->up.stream->fd, &s->env.set.backend, &s->env.set.peer, &uid,
	                            why, sizeof(why));

	if (rc == MD9_PEERAUTH_OK) {
		log_debug("session %llu: the server runs as uid %d: allowed",
		          (unsigned long long)s->env.id, uid == (uid_t)-1 ? -1 : (int)uid);
		s->authorized = true;
		negotiation_server_connected(s->nego);
		return 1;
	}
	if (rc == MD9_PEERAUTH_PENDING) {
		s->auth_delay_ms = s->auth_delay_ms ? s->auth_delay_ms * 2 : 1;
		if (s->auth_delay_ms > AUTH_RETRY_MAX_MS)
			s->auth_delay_ms = AUTH_RETRY_MAX_MS;
		ev_timer_arm(s->env.loop, &s->auth_timer, s->auth_delay_ms, on_auth_timer, s);
		return 0;
	}
	if (rc == MD9_PEERAUTH_GONE)
		return session_core_end(s, "%s", why); /* nothing was sent; nobody to refuse */
	log_warn("session %llu: %s; ending the session", (unsigned long long)s->env.id, why);
	return session_core_end(s, "the server was refused: it does not run as an allowed user");
}

/* The server step: the connect finished, then md9 learns who the server is.
 * Nothing has been written to the server before check_server allows it. */
static int server_connected(struct session *s)
{
	int rc;

	if (upstream_connect_done(&s->up)) {
		rc = upstream_connected(&s->up);
		if (rc < 0)
			return session_core_end(s, "cannot connect to the server %s: %s",
			                        s->env.set.backend.spec, strerror(-rc));
		return check_server(s) < 0 ? -1 : 1;
	}
	if (s->up.connecting || s->authorized || s->auth_timer.armed)
		return 0;
	if (s->up.seen & (EPOLLERR | EPOLLHUP))
		return session_core_end(s,
		                        "the server closed the connection before md9 could check "
		                        "who it is");
	return check_server(s);
}

/* NEGO_TLS: drive md9's handshake; the pin is the session's own setting. */
static int tls_step(struct session *s)
{
	const char *why = NULL;
	char desc[96];
	int rc = md9_tls_handshake(s->up.stream, &s->env.set.tls_pin, &why);

	if (rc == -EAGAIN)
		return 0;
	if (rc < 0)
		return session_core_end(s, "TLS with the server failed: %s", why);
	log_info("session %llu: TLS with the server established (%s)",
	         (unsigned long long)s->env.id, md9_tls_describe(s->up.stream, desc, sizeof(desc)));
	negotiation_tls_done(s->nego);
	return 1;
}

/* ---- negotiation ---- */

/* Carry out what the negotiation says, in order. Bytes for a side wait
 * while earlier ones to that side are not written. >0 progress, 0 nothing
 * to do now, <0 the session ends. */
static int act(struct session *s)
{
	const struct negotiation_action *a;
	int progress = 0;

	while (s->nego && (a = negotiation_action(s->nego))) {
		switch (a->act) {
		case NEGO_TO_SERVER:
			if (s->up.owed_len)
				return progress;
			upstream_owe(&s->up, a->data, a->len);
			break;
		case NEGO_TO_HOST:
			if (s->to_host.len)
				return progress;
			s->to_host = (struct pending){a->data, a->len, 0};
			break;
		case NEGO_RECONNECT:
			upstream_close(&s->up);
			if (session_negotiate_connect(s) < 0)
				return -1;
			break;
		case NEGO_START_TLS:
			if (upstream_start_tls(&s->up) < 0)
				return session_core_end(s, "cannot set up TLS");
			break;
		case NEGO_REFUSED:
			s->refused = true;
			s->send_eof = true; /* an orderly end: the server answered, then closes */
			snprintf(s->reason_buf, sizeof(s->reason_buf), "%s", a->why);
			s->state = SS_DRAIN;
			session_core_arm_timer(s, s->env.set.drain_timeout_ms);
			break;
		case NEGO_FAIL:
			return session_core_end(s, "%s", a->why);
		case NEGO_RELAY:
			s->state = SS_RELAY;
			ev_timer_cancel(s->env.loop, &s->timer);
			log_info("session %llu: relaying", (unsigned long long)s->env.id);
			break;
		}
		negotiation_pop(s->nego);
		progress = 1;
	}
	return progress;
}

/* Feed the negotiation what it waits for: md9's TLS handshake, host bytes,
 * server bytes (only once what it owes the server is written). */
static int feed(struct session *s)
{
	int progress = 0, rc;

	if (s->authorized && negotiation_phase(s->nego) == NEGO_TLS &&
	    !negotiation_action(s->nego)) {
		rc = tls_step(s);
		if (rc < 0)
			return -1;
		progress |= rc;
	}
	if (session_core_owes_nothing(s) && negotiation_wants_host(s->nego)) {
		rc = read_host(s);
		if (rc < 0)
			return -1;
		progress |= rc;
	}
	if (s->authorized && session_core_owes_nothing(s) && negotiation_wants_server(s->nego)) {
		rc = read_server(s);
		if (rc < 0)
			return -1;
		progress |= rc;
	}
	return progress;
}

int session_negotiate_step(struct session *s)
{
	int progress = 0, rc;

	if (s->up.owed_len) {
		rc = session_negotiate_flush(s);
		if (rc < 0)
			return -1;
		progress |= rc;
	}
	rc = server_connected(s);
	if (rc < 0)
		return -1;
	progress |= rc;
	rc = act(s);
	if (rc < 0)
		return -1;
	if (s->state != SS_NEGOTIATE)
		return 1;
	progress |= rc;
	rc = feed(s);
	return rc < 0 ? -1 : progress | rc;
}
