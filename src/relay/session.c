#include "session.h"

#include "log.h"
#include "mcs.h"
#include "peerauth.h"
#include "relay.h"
#include "tls.h"
#include "tpkt.h"
#include "x224.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

/* Room for the host's CR plus an RDP_NEG_REQ md9 may append (8 bytes). */
#define Q_SERVER_CAP (SESSION_NEGO_BUF + 64)

static int end(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Record why the session ends; session_run closes it before returning. */
static int end(struct session *s, const char *fmt, ...)
{
	va_list ap;

	if (s->close_reason)
		return -1;
	va_start(ap, fmt);
	vsnprintf(s->reason_buf, sizeof(s->reason_buf), fmt, ap);
	va_end(ap);
	s->close_reason = s->reason_buf;
	return -1;
}

static void arm_timer(struct session *s, unsigned ms)
{
	struct itimerspec its = {.it_value = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000}};

	if (ms == 0)
		its.it_value.tv_nsec = 1; /* fire at once */
	timerfd_settime(s->timerfd, 0, &its, NULL);
}

static void disarm_timer(struct session *s)
{
	struct itimerspec its = {0};

	timerfd_settime(s->timerfd, 0, &its, NULL);
}

/* ---- host side (pipe) ---- */

/* Copy readable host bytes into hbuf. <0: the session ends. */
static int read_host(struct session *s)
{
	ssize_t n;

	if (s->hlen == SESSION_NEGO_BUF)
		return end(s, "the host sent more than %d bytes without a complete PDU",
			   SESSION_NEGO_BUF);
	n = pipe_rx_read(&s->in, s->hbuf + s->hlen, SESSION_NEGO_BUF - s->hlen);
	if (n < 0)
		return end(s, "malformed data from the host: %s", s->in.error);
	s->hlen += (size_t)n;
	s->bytes_h2s += (size_t)n;
	return (int)(n > 0);
}

/* Write q_host into the TX ring. 1: all written, 0: ring full (waiting). */
static int flush_host(struct session *s)
{
	while (s->q_host_off < s->q_host_len) {
		size_t n = pipe_tx_write(&s->out, s->q_host + s->q_host_off,
					 s->q_host_len - s->q_host_off);
		s->q_host_off += n;
		s->bytes_s2h += n;
		if (s->q_host_off == s->q_host_len)
			break;
		if (!pipe_tx_wait(&s->out, 1)) {
			s->host_full_wait = true;
			return 0;
		}
	}
	s->q_host_len = s->q_host_off = 0;
	return 1;
}

/* Queue bytes for the host. <0: they do not fit (the session ends). */
static int queue_host(struct session *s, const uint8_t *p, size_t n)
{
	if (n > SESSION_NEGO_BUF - s->q_host_len)
		return end(s, "internal error: more than %d bytes queued for the host",
		           SESSION_NEGO_BUF);
	memcpy(s->q_host + s->q_host_len, p, n);
	s->q_host_len += n;
	return 0;
}

/* The server's Connection Confirm as the host gets it (adapter_cc_for_host),
 * then the server's bytes after it, if any. */
static int queue_cc(struct session *s, size_t cc_len, size_t upto)
{
	uint8_t cc[X224_CR_MAX_LEN];
	size_t n = 0;
	const char *why = NULL;

	if (adapter_cc_for_host(&s->adapter, s->sbuf, cc_len, cc, sizeof(cc), &n, &why) < 0)
		return end(s, "cannot pass the Connection Confirm on: %s", why);
	if (n != cc_len)
		log_debug("session %llu: the host sent no RDP_NEG_REQ: passing the Connection "
		          "Confirm on without rdpNegData",
		          (unsigned long long)s->id);
	if (queue_host(s, cc, n) < 0)
		return -1;
	return queue_host(s, s->sbuf + cc_len, upto - cc_len);
}

/* One line naming what cannot work and its fix (adapter.h). */
static void log_cause(struct session *s, const char *why, const char *suffix)
{
	if (s->adapter.fix)
		log_warn("session %llu: %s%s; fix: %s", (unsigned long long)s->id, why, suffix,
		         s->adapter.fix);
	else
		log_warn("session %llu: %s%s", (unsigned long long)s->id, why, suffix);
}

/* ---- server side (socket) ---- */

/* Write q_server to the server. 1: all written, 0: blocked, <0: ends. */
static int flush_server(struct session *s)
{
	while (s->q_server_off < s->q_server_len) {
		struct iovec iov = {s->q_server + s->q_server_off, s->q_server_len - s->q_server_off};
		ssize_t n = s->server->ops->writev(s->server, &iov, 1);
		if (n == -EAGAIN) {
			s->server_writable_wait = true;
			return 0;
		}
		if (n < 0)
			return end(s, "writing to the server failed: %s", strerror((int)-n));
		s->q_server_off += (size_t)n;
	}
	s->q_server_len = s->q_server_off = 0;
	s->server_writable_wait = false;
	return 1;
}

static int connect_server(struct session *s)
{
	int fd = md9_backend_connect(&s->d->cfg.backend);

	if (fd < 0)
		return end(s, "cannot connect to the server %s: %s", s->d->cfg.backend.spec,
			   strerror(-fd));
	s->sock = fd;
	s->state = SS_CONNECT;
	s->connected = s->auth_wait = false;
	s->auth_delay_ms = 0;
	return ev_set(s->d->loop, &s->sock_h, fd, EPOLLOUT, s->sock_h.fn, s);
}

/* Read away what the server sent that nobody will read any more. Closing a
 * TCP socket with unread received data resets the connection (RFC 2525
 * 2.17; Linux tcp_close), and the reset throws away what md9 already wrote
 * but the kernel had not sent yet: the host's last bytes before the end of
 * the session would never reach the server. Bounded: a server that keeps
 * sending gets its reset after 8 MiB. */
static void discard_unread(int fd)
{
	char buf[65536];

	for (int i = 0; i < 128; i++)
		if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0)
			break;
}

static void drop_server(struct session *s)
{
	if (s->sock_h.active)
		ev_del(s->d->loop, &s->sock_h);
	if (s->sock >= 0)
		discard_unread(s->sock);
	if (s->server)
		s->server->ops->free(s->server);
	else if (s->sock >= 0)
		close(s->sock);
	s->server = NULL;
	s->sock = -1;
}

/* ---- who the server is ---- */

/* Nothing tells md9 when a tcp server accept()s: look again after 1 ms,
 * doubling up to this, until the negotiation timeout ends the session. */
#define AUTH_RETRY_MAX_MS 64

/* 1: an allowed user serves this connection; 0: not known yet (timer armed);
 * <0: refused, the session ends before a byte of the host's reached it. */
static int auth_server(struct session *s)
{
	char why[400];
	uid_t uid;
	int rc = md9_peerauth_check(s->sock, &s->d->cfg.backend, &s->d->cfg.peer, &uid, why,
	                            sizeof(why));

	if (rc == MD9_PEERAUTH_OK) {
		log_debug("session %llu: the server runs as uid %d: allowed",
		          (unsigned long long)s->id, uid == (uid_t)-1 ? -1 : (int)uid);
		return 1;
	}
	if (rc == MD9_PEERAUTH_PENDING) {
		struct itimerspec its = {0};

		s->auth_delay_ms = s->auth_delay_ms ? s->auth_delay_ms * 2 : 1;
		if (s->auth_delay_ms > AUTH_RETRY_MAX_MS)
			s->auth_delay_ms = AUTH_RETRY_MAX_MS;
		its.it_value.tv_nsec = (long)s->auth_delay_ms * 1000000;
		timerfd_settime(s->authfd, 0, &its, NULL);
		s->auth_wait = true;
		return 0;
	}
	if (rc == MD9_PEERAUTH_GONE)
		return end(s, "%s", why); /* nothing was sent; nobody to refuse */
	log_warn("session %llu: %s; ending the session", (unsigned long long)s->id, why);
	return end(s, "the server was refused: it does not run as an allowed user");
}

/* ---- negotiation ---- */

/* The host's Connection Request: parse it once complete, queue the rewritten one. */
static int take_cr(struct session *s)
{
	struct x224_cr cr;
	const char *why = NULL;
	int rc;

	if (s->cr_len)
		return 1;
	if (read_host(s) < 0)
		return -1;
	rc = x224_parse_cr(s->hbuf, s->hlen, &cr, &why);
	if (rc < 0)
		return end(s, "malformed X.224 Connection Request from the host: %s", why);
	if (rc == 0)
		return 0;
	s->cr_len = cr.pdu_len;
	if (adapter_rewrite_cr(&s->adapter, s->hbuf, s->cr_len, s->q_server, Q_SERVER_CAP,
			       &s->q_server_len, &why) < 0)
		return end(s, "cannot rewrite the Connection Request: %s", why);
	s->q_server_off = 0;
	log_debug("session %llu: host requested %s", (unsigned long long)s->id,
		  x224_protocol_name(s->adapter.host_requested));
	return 1;
}

static int start_relay_stream(struct session *s, bool tls)
{
	int fd = s->sock;

	if (!tls) {
		s->server = md9_stream_socket(fd);
		return s->server ? 0 : end(s, "out of memory");
	}
	s->server = md9_tls_stream_new(fd, NULL);
	return s->server ? 0 : end(s, "cannot set up TLS");
}

static void log_choice(struct session *s)
{
	log_info("session %llu: host requested %s, md9 (%s) asked the server for %s, server selected %s",
		 (unsigned long long)s->id, x224_protocol_name(s->adapter.host_requested),
		 md9_security_name(s->adapter.mode), x224_protocol_name(s->adapter.asked),
		 x224_protocol_name(s->adapter.selected));
}

/* The server's Connection Confirm. */
static int take_cc(struct session *s)
{
	struct x224_cc cc;
	const char *why = NULL;
	ssize_t n;
	int rc;

	if (s->slen == SESSION_NEGO_BUF)
		return end(s, "the server sent more than %d bytes without a Connection Confirm",
			   SESSION_NEGO_BUF);
	n = recv(s->sock, s->sbuf + s->slen, SESSION_NEGO_BUF - s->slen, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n < 0)
		return end(s, "reading from the server failed: %s", strerror(errno));
	if (n == 0)
		return end(s, "the server closed the connection before its Connection Confirm");
	s->slen += (size_t)n;
	rc = x224_parse_cc(s->sbuf, s->slen, &cc, &why);
	if (rc < 0)
		return end(s, "malformed X.224 Connection Confirm from the server: %s", why);
	if (rc == 0)
		return 0;

	switch (adapter_on_cc(&s->adapter, &cc, &why)) {
	case ADAPTER_RETRY_RDP:
		log_info("session %llu: the server refused TLS (%s); asking again for standard RDP security",
			 (unsigned long long)s->id, x224_failure_name(cc.failure_code));
		drop_server(s);
		s->slen = 0;
		if (adapter_rewrite_cr(&s->adapter, s->hbuf, s->cr_len, s->q_server, Q_SERVER_CAP,
				       &s->q_server_len, &why) < 0)
			return end(s, "cannot rewrite the Connection Request: %s", why);
		s->q_server_off = 0;
		return connect_server(s) < 0 ? -1 : 1;
	case ADAPTER_REFUSED:
		log_cause(s, why, "; passing its answer to the host");
		if (queue_host(s, s->sbuf, cc.pdu_len) < 0)
			return -1;
		s->refused = true;
		snprintf(s->reason_buf, sizeof(s->reason_buf), "%s", why);
		s->state = SS_DRAIN;
		arm_timer(s, s->d->cfg.drain_timeout_ms);
		return 1;
	case ADAPTER_FAIL:
		if (!cc.has_neg || cc.neg_type != X224_TYPE_RDP_NEG_FAILURE)
			log_choice(s);
		log_cause(s, why, "");
		return end(s, "%s", why);
	case ADAPTER_TLS:
		if (s->slen != cc.pdu_len)
			return end(s, "the server sent data after its Connection Confirm before TLS");
		log_choice(s);
		if (queue_cc(s, cc.pdu_len, cc.pdu_len) < 0)
			return -1;
		s->state = SS_TLS;
		return start_relay_stream(s, true) < 0 ? -1 : 1;
	case ADAPTER_PLAIN:
		log_choice(s);
		if (s->adapter.mode == MD9_SEC_PASSTHROUGH && s->adapter.selected != X224_PROTOCOL_RDP)
			log_debug("session %llu: passthrough: the server selected %s; the host "
			          "sends plaintext, so this only works if the server runs in "
			          "vmconnect mode (xrdp vmconnect=true)",
			          (unsigned long long)s->id,
			          x224_protocol_name(s->adapter.selected));
		/* The CC and anything after it go to the host. */
		if (queue_cc(s, cc.pdu_len, s->slen) < 0)
			return -1;
		s->slen = 0;
		s->state = SS_WAIT_MCS;
		return start_relay_stream(s, false) < 0 ? -1 : 1;
	}
	return end(s, "internal error: unknown adapter verdict");
}

/* Host bytes after the CR: the MCS Connect-Initial, patched, then relay. */
static int take_connect_initial(struct session *s)
{
	const char *why = NULL;
	size_t pdu;
	int rc;

	if (s->cr_len) {
		/* Host bytes after the CR were read with it: keep them. */
		memmove(s->hbuf, s->hbuf + s->cr_len, s->hlen - s->cr_len);
		s->hlen -= s->cr_len;
		s->cr_len = 0;
	}
	if (s->hlen == 0 && read_host(s) < 0)
		return -1;
	rc = tpkt_pdu_length(s->hbuf, s->hlen, &pdu, &why);
	if (rc < 0)
		return end(s, "malformed PDU from the host after the Connection Confirm: %s", why);
	if (rc == 0 || s->hlen < pdu) {
		if (read_host(s) <= 0)
			return s->close_reason ? -1 : 0;
		return 1;
	}
	if (adapter_fix_connect_initial(&s->adapter, s->hbuf, pdu, &why) < 0)
		return end(s, "malformed MCS Connect-Initial from the host: %s", why);
	memcpy(s->q_server, s->hbuf, s->hlen);
	s->q_server_len = s->hlen;
	s->q_server_off = 0;
	s->hlen = 0;
	s->slen = 0;
	s->state = SS_WAIT_RESP;
	return 1;
}

/* The server's answer to the Connect-Initial, read whole before the host
 * sees any of it: a Connect-Response md9 can relay (adapter_on_server_pdu),
 * then the relay starts with it. */
static int take_connect_response(struct session *s)
{
	const char *why = NULL;
	size_t pdu = 0;
	int rc;

	if (s->q_host_len)
		return 0; /* the host's ring is full; its signal brings us back */
	if (s->q_server_len) {
		rc = flush_server(s);
		if (rc <= 0)
			return rc;
	}
	for (;;) {
		rc = tpkt_pdu_length(s->sbuf, s->slen, &pdu, &why);
		if (rc < 0) {
			why = adapter_no_connect_response(&s->adapter);
			log_cause(s, why, " (its answer is not a TPKT)");
			return end(s, "%s", why);
		}
		if (rc == 1 && s->slen >= pdu)
			break;
		struct iovec iov = {s->sbuf + s->slen, SESSION_NEGO_BUF - s->slen};
		ssize_t n = s->server->ops->readv(s->server, &iov, 1);
		if (n == -EAGAIN)
			return 0;
		if (n <= 0) {
			why = adapter_no_connect_response(&s->adapter);
			log_cause(s, why, "");
			if (s->slen && queue_host(s, s->sbuf, s->slen) < 0)
				return -1;
			s->slen = 0;
			snprintf(s->reason_buf, sizeof(s->reason_buf), "%s", why);
			s->state = SS_DRAIN;
			arm_timer(s, s->d->cfg.drain_timeout_ms);
			return 1;
		}
		s->slen += (size_t)n;
	}
	switch (adapter_on_server_pdu(&s->adapter, s->sbuf, pdu, &why)) {
	case ADAPTER_PLAIN:
		break;
	case ADAPTER_REFUSED:
		/* Not a Connect-Response: what the server said goes to the host,
		 * then the session ends. */
		log_cause(s, why, "");
		if (queue_host(s, s->sbuf, s->slen) < 0)
			return -1;
		s->slen = 0;
		snprintf(s->reason_buf, sizeof(s->reason_buf), "%s", why);
		s->state = SS_DRAIN;
		arm_timer(s, s->d->cfg.drain_timeout_ms);
		return 1;
	default:
		log_cause(s, why, "");
		return end(s, "%s", why);
	}
	if (queue_host(s, s->sbuf, s->slen) < 0)
		return -1;
	s->slen = 0;
	s->state = SS_RELAY;
	disarm_timer(s);
	log_info("session %llu: relaying", (unsigned long long)s->id);
	return 1;
}

/* ---- relay ---- */

static int relay_h2s(struct session *s)
{
	struct relay_result r;

	if (s->q_server_len) {
		int rc = flush_server(s);
		if (rc <= 0)
			return rc;
	}
	r = relay_pipe_to_stream(&s->in, s->server, s->d->cfg.relay_budget);
	s->bytes_h2s += r.moved;
	switch (r.state) {
	case RELAY_ERROR:
		if (r.err == -EBADMSG)
			return end(s, "malformed data from the host: %s", s->in.error);
		return end(s, "writing to the server failed: %s", strerror(-r.err));
	case RELAY_BLOCKED:
		s->server_writable_wait = true;
		break;
	case RELAY_BUDGET:
		daemon_defer(s->d, s);
		/* fall through */
	default:
		s->server_writable_wait = false;
	}
	/* RELAY_IDLE: the ring is drained; unmask+recheck sees new bytes, no second pass. */
	return r.moved > 0 && r.state != RELAY_IDLE;
}

static int relay_s2h(struct session *s)
{
	struct relay_result r;

	if (s->q_host_len && flush_host(s) == 0)
		return 0;
	r = relay_stream_to_pipe(s->server, &s->out, s->d->cfg.relay_budget);
	s->bytes_s2h += r.moved;
	switch (r.state) {
	case RELAY_EOF:
	case RELAY_ERROR:
		/* What the server sent before it went away still reaches the host. */
		if (r.state == RELAY_EOF)
			snprintf(s->reason_buf, sizeof(s->reason_buf), "the server closed the connection");
		else
			snprintf(s->reason_buf, sizeof(s->reason_buf), "reading from the server failed: %s",
				 strerror(-r.err));
		s->state = SS_DRAIN;
		arm_timer(s, s->d->cfg.drain_timeout_ms);
		return 1;
	case RELAY_BLOCKED:
		if (pipe_tx_wait(&s->out, 1)) {
			s->host_full_wait = false;
			return 1;
		}
		s->host_full_wait = true;
		return r.moved > 0;
	case RELAY_BUDGET:
		daemon_defer(s->d, s);
		break;
	default:
		if (md9_stream_has_buffered(s->server))
			daemon_defer(s->d, s);
		break;
	}
	s->host_full_wait = false;
	/* RELAY_IDLE: the socket is drained (level-triggered epoll reports more);
	 * a second pass would only cost a readv before the doorbell. */
	return r.moved > 0 && r.state != RELAY_IDLE;
}

/* SS_DRAIN: the host reads what is queued, then the session ends. */
static int drain(struct session *s)
{
	struct vmbus_ring *tx = &s->ch->tx;

	if (s->q_host_len && flush_host(s) == 0)
		return 0;
	if (pipe_tx_commit(&s->out))
		md9_channel_signal(s->ch);
	/* Empty now, or ask for a signal once it is: free > size - 8 only then. */
	if (vmbus_ring_writable(tx) == tx->size || vmbus_ring_write_wait(tx, tx->size - 8)) {
		s->close_reason = s->reason_buf; /* set when the drain began */
		return -1;
	}
	return 0;
}

/* One pass over the state machine. >0 progress, 0 nothing to do, <0 ended. */
static int step(struct session *s)
{
	uint32_t ev = s->last_sock_events;
	int rc, progress = 0;

	if (s->q_host_len && s->state != SS_DRAIN && flush_host(s) > 0)
		progress = 1;
	switch (s->state) {
	case SS_CONNECT:
		rc = take_cr(s);
		if (rc < 0)
			return -1;
		if (!s->connected) {
			if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
				return rc > 0 && !s->cr_len ? 1 : progress;
			s->last_sock_events = 0;
			rc = md9_backend_connected(s->sock);
			if (rc < 0)
				return end(s, "cannot connect to the server %s: %s",
				           s->d->cfg.backend.spec, strerror(-rc));
			s->connected = true;
		} else if (ev & (EPOLLERR | EPOLLHUP)) {
			return end(s, "the server closed the connection before md9 could check "
			              "who it is");
		}
		if (s->auth_wait)
			return rc > 0 && !s->cr_len ? 1 : progress;
		rc = auth_server(s);
		if (rc <= 0)
			return rc < 0 ? -1 : progress;
		s->state = SS_NEGOTIATE;
		return 1;
	case SS_NEGOTIATE:
		rc = take_cr(s);
		if (rc <= 0)
			return rc < 0 ? -1 : progress;
		if (s->q_server_len) {
			ssize_t n = send(s->sock, s->q_server + s->q_server_off,
					 s->q_server_len - s->q_server_off, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				return end(s, "writing to the server failed: %s", strerror(errno));
			if (n > 0)
				s->q_server_off += (size_t)n;
			if (s->q_server_off < s->q_server_len) {
				s->server_writable_wait = true;
				return progress;
			}
			s->server_writable_wait = false;
			s->q_server_len = s->q_server_off = 0;
			progress = 1;
		}
		rc = take_cc(s);
		return rc < 0 ? -1 : rc > 0 ? 1 : progress;
	case SS_TLS: {
		const char *why = NULL;
		char desc[96];
		rc = md9_tls_handshake(s->server, &s->d->cfg.tls_pin, &why);
		if (rc == -EAGAIN)
			return progress;
		if (rc < 0)
			return end(s, "TLS with the server failed: %s", why);
		log_info("session %llu: TLS with the server established (%s)",
			 (unsigned long long)s->id, md9_tls_describe(s->server, desc, sizeof(desc)));
		s->state = SS_WAIT_MCS;
		return 1;
	}
	case SS_WAIT_MCS:
		rc = take_connect_initial(s);
		return rc < 0 ? -1 : rc > 0 ? 1 : progress;
	case SS_WAIT_RESP:
		rc = take_connect_response(s);
		return rc < 0 ? -1 : rc > 0 ? 1 : progress;
	case SS_RELAY: {
		int a = relay_h2s(s);
		if (a < 0)
			return -1;
		int b = relay_s2h(s);
		if (b < 0)
			return -1;
		return (a > 0 || b > 0) && !s->deferred ? 1 : progress;
	}
	case SS_DRAIN:
		return drain(s);
	}
	return 0;
}

/* Does the session want to hear about new host bytes now? */
static bool wants_host(const struct session *s)
{
	switch (s->state) {
	case SS_CONNECT:
	case SS_NEGOTIATE:
		return s->cr_len == 0;
	case SS_WAIT_MCS:
		return true;
	case SS_RELAY:
		return !s->server_writable_wait;
	default:
		return false;
	}
}

static uint32_t sock_events(const struct session *s)
{
	bool want_read = false, want_write = s->server_writable_wait;

	switch (s->state) {
	case SS_CONNECT:
		/* Connected and waiting to learn who the server is: nothing to
		 * write (ERR/HUP are reported anyway). */
		return s->connected ? 0 : EPOLLOUT;
	case SS_NEGOTIATE:
		return s->cr_len && !s->q_server_len ? EPOLLIN : s->server_writable_wait ? EPOLLOUT : 0;
	case SS_TLS:
		return s->server->ops->events_for(s->server, false, false);
	case SS_WAIT_MCS:
		want_write = s->server_writable_wait;
		break;
	case SS_WAIT_RESP:
		want_read = s->q_host_len == 0;
		want_write = s->server_writable_wait;
		break;
	case SS_RELAY:
		want_read = !s->host_full_wait;
		break;
	case SS_DRAIN:
		return 0;
	}
	return s->server ? s->server->ops->events_for(s->server, want_read, want_write)
			 : (want_write ? EPOLLOUT : 0);
}

static void session_free(struct session *s)
{
	struct daemon *d = s->d;

	drop_server(s);
	if (s->ch_h.active)
		ev_del(d->loop, &s->ch_h);
	if (s->timer_h.active)
		ev_del(d->loop, &s->timer_h);
	if (s->timerfd >= 0)
		close(s->timerfd);
	if (s->auth_h.active)
		ev_del(d->loop, &s->auth_h);
	if (s->authfd >= 0)
		close(s->authfd);
	if (s->ch)
		s->ch->tp->ops->close(s->ch);
	daemon_session_gone(d, s);
	free(s->hbuf);
	free(s->sbuf);
	free(s->q_server);
	free(s->q_host);
	free(s);
}

void session_close(struct session *s, const char *reason)
{
	struct timespec now;
	char g[MD9_GUID_STRLEN];

	clock_gettime(CLOCK_MONOTONIC, &now);
	double age = (double)(now.tv_sec - s->started.tv_sec) +
		     (double)(now.tv_nsec - s->started.tv_nsec) / 1e9;
	log_info("session %llu: closed (%s): channel %s, %llu bytes host->server, %llu bytes server->host, %.1f s",
		 (unsigned long long)s->id, reason, md9_guid_format(&s->ch->instance, g),
		 (unsigned long long)s->bytes_h2s, (unsigned long long)s->bytes_s2h, age);
	session_free(s);
}

void session_run(struct session *s)
{
	bool kick;

	for (;;) {
		int rc;

		vmbus_ring_mask(&s->ch->rx);
		while ((rc = step(s)) > 0)
			;
		if (rc < 0)
			break;
		kick = pipe_tx_commit(&s->out);
		kick |= pipe_rx_commit(&s->in);
		if (kick) {
			/* On uio this write also clears the RX interrupt mask. */
			md9_channel_signal(s->ch);
		}
		if (wants_host(s) && !s->deferred) {
			if (vmbus_ring_unmask(&s->ch->rx))
				continue; /* bytes arrived after the last look */
		}
		if (s->ch->rx.broken || s->ch->tx.broken)
			end(s, "the host corrupted a ring index: %s",
			    s->ch->rx.broken ? s->ch->rx.broken : s->ch->tx.broken);
		break;
	}
	if (s->close_reason) {
		/* Bytes already in the TX ring are the host's to read. */
		if (pipe_tx_commit(&s->out))
			md9_channel_signal(s->ch);
		session_close(s, s->close_reason);
		return;
	}
	if (s->sock >= 0 && s->sock_h.active)
		ev_mod(s->d->loop, &s->sock_h, sock_events(s));
}

static void on_channel(struct ev_handler *h, uint32_t events)
{
	struct session *s = h->arg;
	int rc = s->ch->tp->ops->ack(s->ch);

	if (rc == -EIO) {
		session_close(s, "the host closed the channel");
		return;
	}
	session_run(s);
}

static void on_socket(struct ev_handler *h, uint32_t events)
{
	struct session *s = h->arg;

	s->last_sock_events |= events;
	if ((events & (EPOLLERR | EPOLLHUP)) && s->state == SS_RELAY && !(events & EPOLLIN)) {
		session_close(s, "the server connection failed");
		return;
	}
	session_run(s);
}

static void on_auth_timer(struct ev_handler *h, uint32_t events)
{
	struct session *s = h->arg;
	uint64_t n;

	if (read(s->authfd, &n, sizeof(n)) < 0)
		return;
	s->auth_wait = false;
	session_run(s);
}

static void on_timer(struct ev_handler *h, uint32_t events)
{
	struct session *s = h->arg;
	uint64_t n;

	if (read(s->timerfd, &n, sizeof(n)) < 0)
		return;
	if (s->state == SS_DRAIN) {
		session_close(s, s->reason_buf);
		return;
	}
	if (s->state != SS_RELAY) {
		static const char *const what[] = {
		    [SS_CONNECT] = "connecting to the server",
		    [SS_NEGOTIATE] = "the X.224 negotiation",
		    [SS_TLS] = "the TLS handshake with the server",
		    [SS_WAIT_MCS] = "the host's MCS Connect-Initial",
		    [SS_WAIT_RESP] = "the server's MCS Connect-Response",
		};
		snprintf(s->reason_buf, sizeof(s->reason_buf), "timed out waiting for %s",
			 what[s->state]);
		session_close(s, s->reason_buf);
	}
}

int session_new(struct daemon *d, struct md9_channel *ch)
{
	struct session *s = calloc(1, sizeof(*s));
	char g[MD9_GUID_STRLEN];

	md9_guid_format(&ch->instance, g);
	if (!s) {
		log_err("data channel %s: out of memory", g);
		ch->tp->ops->close(ch);
		return -1;
	}
	s->d = d;
	s->ch = ch;
	s->sock = -1;
	s->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	s->authfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	s->hbuf = malloc(SESSION_NEGO_BUF);
	s->sbuf = malloc(SESSION_NEGO_BUF);
	s->q_server = malloc(Q_SERVER_CAP);
	s->q_host = malloc(SESSION_NEGO_BUF);
	s->id = ++d->sessions_total;
	clock_gettime(CLOCK_MONOTONIC, &s->started);
	pipe_rx_init(&s->in, &ch->rx);
	pipe_tx_init(&s->out, &ch->tx);
	adapter_init(&s->adapter, d->cfg.security);
	s->adapter.require_tls = d->cfg.tls_pin.set;
	s->next = d->sessions;
	d->sessions = s;
	d->nsessions++;
	s->sock_h.fn = on_socket;
	log_info("session %llu: opened on data channel %s (server %s, security %s)",
		 (unsigned long long)s->id, g, d->cfg.backend.spec, md9_security_name(d->cfg.security));
	if (s->timerfd < 0 || s->authfd < 0 || !s->hbuf || !s->sbuf || !s->q_server || !s->q_host ||
	    ev_set(d->loop, &s->ch_h, ch->fd, EPOLLIN, on_channel, s) < 0 ||
	    ev_set(d->loop, &s->timer_h, s->timerfd, EPOLLIN, on_timer, s) < 0 ||
	    ev_set(d->loop, &s->auth_h, s->authfd, EPOLLIN, on_auth_timer, s) < 0) {
		session_close(s, "cannot allocate session resources");
		return -1;
	}
	arm_timer(s, d->cfg.negotiate_timeout_ms);
	if (connect_server(s) < 0) {
		session_close(s, s->close_reason);
		return -1;
	}
	session_run(s); /* may end it already */
	return 0;
}
