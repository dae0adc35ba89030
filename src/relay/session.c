#include "session.h"

#include "log.h"
#include "negotiation.h"
#include "pace.h"
#include "relay.h"
#include "session_core.h"
#include "session_negotiate.h"
#include "timespec.h"
#include "tls.h"
#include "x224.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

static void on_timer(struct ev_timer *t);

/* Ask the owner for another run soon (once until it happens). */
static void defer(struct session *s)
{
	if (s->deferred)
		return;
	s->deferred = true;
	s->env.defer(s->env.owner);
}

static enum session_state state_of(const struct session *s)
{
	if (s->state != SS_NEGOTIATE)
		return s->state;
	if (s->up.connecting || !s->authorized)
		return SS_CONNECT;
	switch (negotiation_phase(s->nego)) {
	case NEGO_TLS:
		return SS_TLS;
	case NEGO_CONNECT_INITIAL:
		return SS_WAIT_MCS;
	case NEGO_CONNECT_RESPONSE:
		return SS_WAIT_RESP;
	default:
		return SS_NEGOTIATE;
	}
}

/* ---- host side (pipe) ---- */

/* The TX ring is full: publish what is in it, then ask the host for a
 * signal once there is room (pending_send_sz). True: there is room already.
 * The host counts free space against the write index it can see, and
 * signals when its reads take that across pending_send_sz. Bytes put but
 * not yet published fill the ring for md9 and not for the host: its reads
 * would never cross the threshold and the signal would never come (bench/run
 * found it: a transfer to the host stopped for good about once in 30 runs,
 * ring empty, md9 waiting). */
static bool wait_host_room(struct session *s)
{
	if (pipe_tx_commit(&s->out))
		md9_channel_signal(s->ch);
	return pipe_tx_wait(&s->out, 1);
}

/* Write to_host into the TX ring. 1: all written, 0: ring full (waiting). */
static int flush_host(struct session *s)
{
	struct pending *q = &s->to_host;

	while (q->off < q->len) {
		size_t n = pipe_tx_write(&s->out, q->p + q->off, q->len - q->off);
		q->off += n;
		s->bytes_s2h += n;
		if (q->off == q->len)
			break;
		if (!wait_host_room(s)) {
			s->host_full_wait = true;
			return 0;
		}
	}
	*q = (struct pending){0};
	return 1;
}

/* ---- relay ---- */

static int relay_h2s(struct session *s)
{
	struct relay_result r;

	if (s->up.owed_len) {
		int rc = session_negotiate_flush(s);
		if (rc <= 0)
			return rc;
	}
	r = relay_pipe_to_stream(&s->in, s->up.stream,
	                         pace_budget(s->env.pace, s->env.set.relay_budget));
	s->bytes_h2s += r.moved;
	s->pass_moved += r.moved;
	switch (r.state) {
	case RELAY_ERROR:
		if (r.err == -EBADMSG)
			return session_core_end(s, "malformed data from the host: %s", s->in.error);
		return session_core_end(s, "writing to the server failed: %s", strerror(-r.err));
	case RELAY_BLOCKED:
		s->up.write_blocked = true;
		break;
	case RELAY_BUDGET:
		defer(s);
		/* fall through */
	default:
		s->up.write_blocked = false;
	}
	if (r.state == RELAY_IDLE && s->in.eof && !s->server_shut) {
		/* K9: the host will send nothing more, and every byte before its
		 * end-of-stream packet is with the server: half-close, as TCP's
		 * FIN does, and keep relaying what the server still sends. */
		int rc = upstream_shutdown_write(&s->up);

		if (rc == -EAGAIN)
			return 0;
		s->server_shut = true;
		if (rc < 0)
			log_debug("session %llu: half-closing the server connection: %s",
			          (unsigned long long)s->env.id, strerror(-rc));
		log_info("session %llu: the host ended its stream; the server connection is "
		         "half-closed, the server's remaining bytes still go to the host",
		         (unsigned long long)s->env.id);
		return 1;
	}
	/* RELAY_IDLE: the ring is drained; unmask+recheck sees new bytes, no second pass. */
	return r.moved > 0 && r.state != RELAY_IDLE;
}

static int relay_s2h(struct session *s)
{
	struct relay_result r;

	if (s->to_host.len && flush_host(s) == 0)
		return 0;
	/* Drained, and epoll has reported nothing since: a read would only
	 * return EAGAIN (one system call per host wake-up saved). The host's
	 * read_index is still checked on every pass, as a read would have:
	 * a corrupt one ends the session (session_run) even when the server
	 * is silent. */
	if (!s->server_readable && !s->server_hup && !md9_tls_has_buffered(s->up.stream)) {
		vmbus_ring_writable(s->out.ring);
		return 0;
	}
	r = relay_stream_to_pipe(s->up.stream, &s->out,
	                         pace_budget(s->env.pace, s->env.set.relay_budget));
	s->bytes_s2h += r.moved;
	s->pass_moved += r.moved;
	if (r.state == RELAY_IDLE)
		s->server_readable = false;
	switch (r.state) {
	case RELAY_EOF:
	case RELAY_ERROR:
		/* What the server sent before it went away still reaches the host;
		 * an orderly end (EOF) is passed on as the pipe's end of stream. */
		s->send_eof = r.state == RELAY_EOF;
		if (r.state == RELAY_EOF)
			snprintf(s->reason_buf, sizeof(s->reason_buf),
			         "the server closed the connection");
		else
			snprintf(s->reason_buf, sizeof(s->reason_buf),
			         "reading from the server failed: %s", strerror(-r.err));
		s->state = SS_DRAIN;
		session_core_arm_timer(s, s->env.set.drain_timeout_ms);
		return 1;
	case RELAY_BLOCKED:
		if (wait_host_room(s)) {
			s->host_full_wait = false;
			return 1;
		}
		s->host_full_wait = true;
		return r.moved > 0;
	case RELAY_BUDGET:
		defer(s);
		break;
	default:
		if (md9_tls_has_buffered(s->up.stream))
			defer(s);
		break;
	}
	s->host_full_wait = false;
	/* RELAY_IDLE: the socket is drained (level-triggered epoll reports more);
	 * a second pass would only cost a readv before the doorbell. Without
	 * socket events (server_hup) only that pass finds the server's EOF. */
	return r.moved > 0 && (r.state != RELAY_IDLE || s->server_hup);
}

/* SS_DRAIN: the host reads what is queued, then, after an orderly end, the
 * end-of-stream packet; once it has read everything (the TX ring is empty)
 * the session ends. Waiting for the host to consume the end of stream is
 * what OpenVMM's pipe allows a guest to rely on before tearing the ring down
 * (vmbus_async/src/pipe.rs, try_read_bytes). */
static int drain(struct session *s)
{
	struct vmbus_ring *tx = &s->ch->tx;

	if (s->to_host.len && flush_host(s) == 0)
		return 0;
	while (s->send_eof && !s->eof_sent) {
		if (pipe_tx_eof(&s->out))
			s->eof_sent = true;
		else if (!pipe_tx_wait(&s->out, 0))
			return 0; /* woken when there is room */
	}
	if (pipe_tx_commit(&s->out) && md9_channel_signal(s->ch) == -EIO)
		return session_core_end(s, "the host closed the channel");
	/* Empty now, or ask for a signal once it is: free > size - 8 only then. */
	if (vmbus_ring_writable(tx) == tx->size || vmbus_ring_write_wait(tx, tx->size - 8)) {
		s->close_reason = s->reason_buf; /* set when the drain began */
		return -1;
	}
	return 0;
}

/* Relaying has started and the negotiation's last bytes are out: its
 * buffers go. */
static void end_negotiation(struct session *s)
{
	if (!s->nego || s->up.owed_len || s->to_host.len)
		return;
	negotiation_result(s->nego, &s->result);
	negotiation_free(s->nego);
	s->nego = NULL;
}

/* One pass over the state machine. >0 progress, 0 nothing to do, <0 ended. */
static int step(struct session *s)
{
	int rc, progress = 0;

	if (s->to_host.len && s->state != SS_DRAIN && flush_host(s) > 0)
		progress = 1;
	switch (s->state) {
	case SS_NEGOTIATE:
		rc = session_negotiate_step(s);
		return rc < 0 ? -1 : rc > 0 ? 1 : progress;
	case SS_RELAY: {
		int a = relay_h2s(s);
		if (a < 0)
			return -1;
		int b = relay_s2h(s);
		if (b < 0)
			return -1;
		end_negotiation(s);
		return (a > 0 || b > 0) && !s->deferred ? 1 : progress;
	}
	case SS_DRAIN:
		return drain(s);
	default:
		return 0;
	}
}

/* Does the session want to hear about new host bytes now? */
static bool wants_host(const struct session *s)
{
	switch (s->state) {
	case SS_NEGOTIATE:
		return session_core_owes_nothing(s) && negotiation_wants_host(s->nego);
	case SS_RELAY:
		return !s->up.write_blocked && !s->in.eof;
	default:
		return false;
	}
}

/* Does the session want to read the server now? */
static bool wants_server(const struct session *s)
{
	switch (s->state) {
	case SS_NEGOTIATE:
		return session_core_owes_nothing(s) && negotiation_wants_server(s->nego);
	case SS_RELAY:
		return !s->host_full_wait;
	default:
		return false;
	}
}

static void session_free(struct session *s)
{
	upstream_close(&s->up);
	if (s->ch_h.active)
		ev_del(s->env.loop, &s->ch_h);
	ev_timer_cancel(s->env.loop, &s->timer);
	ev_timer_cancel(s->env.loop, &s->auth_timer);
	if (s->ch)
		s->ch->tp->ops->close(s->ch);
	s->env.gone(s->env.owner);
	negotiation_free(s->nego);
	free(s);
}

void session_close(struct session *s, const char *reason)
{
	struct timespec now = timespec_now();
	char g[MD9_GUID_STRLEN];
	double age = timespec_diff_s(&s->started, &now);

	log_info("session %llu: closed (%s): channel %s, %llu bytes host->server, %llu bytes "
	         "server->host, %.1f s",
	         (unsigned long long)s->env.id, reason, md9_guid_format(&s->ch->instance, g),
	         (unsigned long long)s->bytes_h2s, (unsigned long long)s->bytes_s2h, age);
	session_free(s);
}

/* One drain of the host's ring: run the state machine until it has nothing
 * to do, ring the host's doorbell once. 0: wake on the host's next bytes;
 * >0: the session does not want them now (ring stays masked); <0: it ends. */
static int session_drain(void *arg)
{
	struct session *s = arg;
	bool kick;
	int rc;

	while ((rc = step(s)) > 0)
		;
	if (rc < 0 || s->ch->gone)
		return -1;
	/* A session queued for another turn publishes only once
	 * SESSION_COMMIT_BATCH has piled up: the host, which drains faster than
	 * md9 fills, would otherwise be woken for every short turn (pace.h).
	 * Its turn comes at once; a session that is not queued always
	 * publishes. */
	if (s->deferred && vmbus_ring_unpublished_write(&s->ch->tx) +
	                           vmbus_ring_unpublished_read(&s->ch->rx) <
	                       SESSION_COMMIT_BATCH)
		return 1;
	kick = pipe_tx_commit(&s->out);
	kick |= pipe_rx_commit(&s->in);
	/* On uio this write also clears the RX interrupt mask. */
	if (kick && md9_channel_signal(s->ch) == -EIO)
		return -1;
	return wants_host(s) && !s->deferred ? 0 : 1;
}

/* Run the state machine now (events arrived, a timer fired).
 * Invariant (K4): once s->ch->gone is set, no path below touches the
 * channel's rings or doorbell again; the session only closes. */
static void session_run(struct session *s)
{
	s->pass_moved = 0;
	if (s->ch->gone) {
		session_close(s, "the host closed the channel");
		return;
	}
	if (vmbus_ring_drain(&s->ch->rx, session_drain, s) == 0 &&
	    (s->ch->rx.broken || s->ch->tx.broken))
		session_core_end(s, "the host corrupted a ring index: %s",
		                 s->ch->rx.broken ? s->ch->rx.broken : s->ch->tx.broken);
	if (s->ch->gone) {
		session_close(s, "the host closed the channel");
		return;
	}
	if (s->close_reason) {
		/* Bytes already in the TX ring are the host's to read. */
		if (pipe_tx_commit(&s->out))
			md9_channel_signal(s->ch);
		session_close(s, s->close_reason);
		return;
	}
	/* A run that moved a little and finished its work (a keystroke, a
	 * small screen update, a ping) marks the session interactive; one that
	 * moved more marks it bulk (pace.h). */
	if (s->state == SS_RELAY && s->pass_moved > SESSION_INTERACTIVE_PASS) {
		s->bulk = true;
		s->bulk_until_ns = timespec_now_ns() + SESSION_BULK_HOLD_NS;
	} else if (s->state == SS_RELAY && !s->deferred && s->pass_moved > 0 &&
	           (!s->bulk || timespec_now_ns() >= s->bulk_until_ns)) {
		s->bulk = false;
		pace_note_interactive(s->env.pace);
	}
	if (s->state == SS_DRAIN)
		upstream_mute(&s->up); /* the server has ended or refused */
	else
		upstream_watch(&s->up, wants_server(s), true);
}

/* A session whose turn is queued waits for it; so does a bulk one while
 * another is interactive (pace.h): the interactive one's events come first. */
static bool wait_for_turn(struct session *s)
{
	if (s->deferred || (s->bulk && s->state == SS_RELAY && pace_interactive(s->env.pace))) {
		defer(s);
		return true;
	}
	return false;
}

static void on_channel(struct ev_handler *h, uint32_t events)
{
	struct session *s = h->arg;
	int rc = md9_channel_ack(s->ch);

	if (rc == -EIO) {
		session_close(s, "the host closed the channel");
		return;
	}
	if (wait_for_turn(s))
		return;
	session_run(s);
}

static void on_socket(struct ev_handler *h, uint32_t events)
{
	struct session *s = h->arg;

	s->up.seen |= events;
	s->server_readable = true;
	if ((events & EPOLLHUP) && !(events & EPOLLERR) && s->server_shut) {
		/* Our FIN (the host's end of stream) and then the server's: not a
		 * failure. What the server sent before it is read as the TX ring
		 * makes room; epoll would report the hang-up on every round until
		 * then, whatever the interest, so stop watching the socket. */
		upstream_mute(&s->up);
		s->server_hup = true;
		session_run(s);
		return;
	}
	if ((events & (EPOLLERR | EPOLLHUP)) && s->state == SS_RELAY && !(events & EPOLLIN)) {
		session_close(s, "the server connection failed");
		return;
	}
	if (wait_for_turn(s))
		return;
	session_run(s);
}

static void on_timer(struct ev_timer *t)
{
	static const char *const what[] = {
	    [SS_CONNECT] = "connecting to the server",
	    [SS_NEGOTIATE] = "the X.224 negotiation",
	    [SS_TLS] = "the TLS handshake with the server",
	    [SS_WAIT_MCS] = "the host's MCS Connect-Initial",
	};
	struct session *s = t->arg;
	enum session_state st = state_of(s);

	if (st == SS_DRAIN) {
		session_close(s, s->reason_buf);
		return;
	}
	if (st != SS_RELAY) {
		snprintf(s->reason_buf, sizeof(s->reason_buf), "timed out waiting for %s",
		         what[st]);
		session_close(s, s->reason_buf);
	}
}

struct session *session_new(const struct session_env *env, struct md9_channel *ch)
{
	struct session *s = calloc(1, sizeof(*s));
	char g[MD9_GUID_STRLEN];

	if (s)
		s->nego = negotiation_new(env->set.security, env->set.tls_pin.set, env->id);
	if (!s || !s->nego) {
		log_err("data channel %s: out of memory", md9_guid_format(&ch->instance, g));
		ch->tp->ops->close(ch);
		free(s);
		return NULL;
	}
	s->env = *env;
	s->on_socket = on_socket;
	s->on_deadline = on_timer;
	s->run = session_run;
	s->ch = ch;
	s->state = SS_NEGOTIATE;
	s->server_readable = true;
	s->started = timespec_now();
	pipe_rx_init(&s->in, &ch->rx);
	pipe_tx_init(&s->out, &ch->tx);
	return s;
}

void session_start(struct session *s)
{
	char g[MD9_GUID_STRLEN];

	log_info("session %llu: opened on data channel %s (server %s, security %s)",
	         (unsigned long long)s->env.id, md9_guid_format(&s->ch->instance, g),
	         s->env.set.backend.spec, md9_security_name(s->env.set.security));
	/* Its errors and hang-ups go before any other handler (K4). */
	if (ev_set_first(s->env.loop, &s->ch_h, s->ch->fd, EPOLLIN, on_channel, s) < 0) {
		session_close(s, "cannot allocate session resources");
		return;
	}
	session_core_arm_timer(s, s->env.set.negotiate_timeout_ms);
	if (session_negotiate_connect(s) < 0) {
		session_close(s, s->close_reason);
		return;
	}
	/* The server accepts while the ring memory is mapped (transport.h). */
	if (s->ch->tp->ops->prefault)
		s->ch->tp->ops->prefault(s->ch);
	session_run(s); /* may end it already */
}

void session_rescinded(struct session *s)
{
	s->ch->gone = true; /* its device is gone: K4 */
	session_close(s, "the host closed the channel");
}

void session_resume(struct session *s)
{
	s->deferred = false;
	session_run(s);
}

static const char *state_name(enum session_state st)
{
	switch (st) {
	case SS_CONNECT:
		return "connecting";
	case SS_NEGOTIATE:
		return "negotiating";
	case SS_TLS:
		return "tls-handshake";
	case SS_WAIT_MCS:
		return "waiting-for-mcs";
	case SS_WAIT_RESP:
		return "waiting-for-mcs-response";
	case SS_RELAY:
		return "relaying";
	case SS_DRAIN:
		return "draining";
	}
	return "unknown";
}

void session_snapshot(struct session *s, struct status_session *out)
{
	struct timespec now = timespec_now();
	struct negotiation_result r = s->result;

	if (s->nego)
		negotiation_result(s->nego, &r);
	out->id = s->env.id;
	out->instance = s->ch->instance;
	out->state = state_name(state_of(s));
	out->age_s = timespec_diff_s(&s->started, &now);
	md9_status_counters(&s->shown, s->bytes_h2s, s->bytes_s2h, &now);
	out->bytes_h2s = s->shown.h2s;
	out->bytes_s2h = s->shown.s2h;
	out->mode = md9_security_name(r.mode);
	out->selected = r.selected_known ? x224_protocol_name(r.selected) : NULL;
	out->refused = s->refused;
}
