#include "probe.h"

#include "mcs_seed.h"
#include "negotiation.h"
#include "stream.h"
#include "timespec.h"
#include "x224.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

/* The probe's state: one connection at a time. The negotiation
 * (negotiation.h) is the one md9's sessions run; the probe plays the host
 * with the seed's Connection Request and Connect-Initial and does the
 * negotiation's reads and writes, blocking until the deadline. */
struct probe {
	const struct md9_backend *b;
	const struct md9_tls_pin *pin;
	struct negotiation *n;
	struct md9_probe_result *out;
	struct timespec deadline;
	int fd;                    /* the server connection, plain */
	struct md9_stream *stream; /* TLS over it, after START_TLS */
};

static bool failed(struct probe *p, enum md9_probe_verdict v, const char *fix, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static bool failed(struct probe *p, enum md9_probe_verdict v, const char *fix, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->out->why, sizeof(p->out->why), fmt, ap);
	va_end(ap);
	p->out->verdict = v;
	p->out->fix = fix;
	return false;
}

/* The adapter's verdict (the negotiation's REFUSED or FAIL) as the probe's. */
static bool adapter_failed(struct probe *p, const char *why)
{
	static const enum md9_probe_verdict of[] = {
	    [ADAPTER_CAUSE_NONE] = MD9_PROBE_ERROR,
	    [ADAPTER_CAUSE_NLA] = MD9_PROBE_NLA,
	    [ADAPTER_CAUSE_ENCRYPTS] = MD9_PROBE_ENCRYPTS,
	    [ADAPTER_CAUSE_NO_VMCONNECT] = MD9_PROBE_NO_VMCONNECT,
	    [ADAPTER_CAUSE_MODE] = MD9_PROBE_REFUSED,
	    [ADAPTER_CAUSE_PROTOCOL] = MD9_PROBE_ERROR,
	};
	struct negotiation_result r;

	negotiation_result(p->n, &r);
	return failed(p, of[r.cause], r.fix, "%s", why);
}

static int ms_left(const struct probe *p)
{
	struct timespec now = timespec_now();
	long long ms = timespec_diff_ms(&now, &p->deadline);

	return ms < 0 ? 0 : ms > 60000 ? 60000 : (int)ms;
}

/* Wait for events on fd until the deadline. 1 ready, 0 timed out, -errno. */
static int wait_for(struct probe *p, int fd, short events)
{
	struct pollfd pf = {.fd = fd, .events = events};
	int r;

	do {
		r = poll(&pf, 1, ms_left(p));
	} while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

static void hang_up(struct probe *p)
{
	if (p->stream)
		p->stream->ops->free(p->stream); /* TLS: close_notify, then close */
	else if (p->fd >= 0)
		close(p->fd);
	p->stream = NULL;
	p->fd = -1;
}

static bool connect_server(struct probe *p)
{
	int fd = md9_backend_connect(p->b), r;

	if (fd < 0)
		return failed(p, MD9_PROBE_ERROR, NULL, "cannot connect to %s: %s", p->b->spec,
		              strerror(-fd));
	p->fd = fd;
	r = wait_for(p, fd, POLLOUT);
	if (r == 0)
		return failed(p, MD9_PROBE_ERROR, NULL, "connecting to %s timed out", p->b->spec);
	r = r < 0 ? r : md9_backend_connected(fd);
	if (r < 0)
		return failed(p, MD9_PROBE_ERROR, NULL, "cannot connect to %s: %s", p->b->spec,
		              strerror(-r));
	return true;
}

/* Sends n bytes on the plain socket (before the stream exists). */
static bool send_all(struct probe *p, const uint8_t *d, size_t n)
{
	while (n) {
		ssize_t k = send(p->fd, d, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (wait_for(p, p->fd, POLLOUT) <= 0)
				return failed(p, MD9_PROBE_ERROR, NULL,
				              "sending to the server timed out");
			continue;
		}
		if (k < 0)
			return failed(p, MD9_PROBE_ERROR, NULL, "sending to the server failed: %s",
			              strerror(errno));
		d += k;
		n -= (size_t)k;
	}
	return true;
}

/* Stream I/O until done or the deadline; the stream says which events it
 * needs (TLS may need to write to read). */
static int stream_wait(struct probe *p, bool rd, bool wr)
{
	uint32_t ev = p->stream->ops->events_for(p->stream, rd, wr);
	short pe = (short)((ev & EPOLLIN ? POLLIN : 0) | (ev & EPOLLOUT ? POLLOUT : 0));

	return wait_for(p, p->stream->fd, pe ? pe : POLLIN);
}

static bool stream_send_all(struct probe *p, const uint8_t *d, size_t n)
{
	while (n) {
		struct iovec iov = {(uint8_t *)d, n};
		ssize_t k = p->stream->ops->writev(p->stream, &iov, 1);
		if (k == -EAGAIN) {
			if (stream_wait(p, false, true) <= 0)
				return failed(p, MD9_PROBE_ERROR, NULL,
				              "sending to the server timed out");
			continue;
		}
		if (k < 0)
			return failed(p, MD9_PROBE_ERROR, NULL, "sending to the server failed: %s",
			              strerror((int)-k));
		d += k;
		n -= (size_t)k;
	}
	return true;
}

/* Server bytes for the negotiation: what one read brings, or the end of the
 * connection. false: the verdict is made (the deadline passed). */
static bool server_in(struct probe *p)
{
	size_t room;
	uint8_t *at = negotiation_server_room(p->n, &room);
	ssize_t k;

	if (p->stream) {
		struct iovec iov = {at, room};
		k = p->stream->ops->readv(p->stream, &iov, 1);
	} else {
		k = recv(p->fd, at, room, MSG_DONTWAIT);
		if (k < 0)
			k = -errno;
	}
	if (k == -EAGAIN || k == -EINTR) {
		if ((p->stream ? stream_wait(p, true, false) : wait_for(p, p->fd, POLLIN)) <= 0)
			return failed(p, MD9_PROBE_ERROR, NULL,
			              "the server did not answer within the timeout");
		return true;
	}
	if (k > 0)
		negotiation_server_in(p->n, (size_t)k);
	else
		negotiation_server_closed(p->n, (int)-k);
	return true;
}

/* Host bytes: the seed's Connection Request first, its Connect-Initial once
 * the negotiation asks for it (after the Connection Confirm, and TLS). */
static void host_in(struct probe *p)
{
	bool request = negotiation_phase(p->n) == NEGO_REQUEST;
	const uint8_t *d = request ? mcs_seed_connection_request : mcs_seed_connect_initial;
	size_t len =
	    request ? sizeof(mcs_seed_connection_request) : sizeof(mcs_seed_connect_initial);
	size_t room;
	uint8_t *at = negotiation_host_room(p->n, &room);

	/* Both fit: NEGOTIATION_BUF holds any TPKT. */
	memcpy(at, d, len < room ? len : room);
	negotiation_host_in(p->n, len < room ? len : room);
}

static bool tls_handshake(struct probe *p)
{
	const char *why = NULL;

	for (;;) {
		int r = md9_tls_handshake(p->stream, p->pin, &why);
		if (r == 0)
			break;
		if (r != -EAGAIN)
			return failed(p, MD9_PROBE_ERROR, NULL, "TLS with the server failed: %s",
			              why);
		if (stream_wait(p, false, false) <= 0)
			return failed(p, MD9_PROBE_ERROR, NULL, "the TLS handshake timed out");
	}
	md9_tls_describe(p->stream, p->out->tls, sizeof(p->out->tls));
	return true;
}

/* Carries out one of the negotiation's actions. 1: go on; 0: done, the
 * server can serve sessions; -1: the verdict is made. */
static int act(struct probe *p, const struct negotiation_action *a)
{
	struct negotiation_result r;

	negotiation_result(p->n, &r);
	p->out->asked = r.asked;
	p->out->selected = r.selected;
	switch (a->act) {
	case NEGO_TO_SERVER:
		if (!(p->stream ? stream_send_all(p, a->data, a->len)
		                : send_all(p, a->data, a->len)))
			return -1;
		return 1;
	case NEGO_TO_HOST:
		return 1; /* the probe plays the host: nobody to tell */
	case NEGO_RECONNECT:
		/* auto: the server refused TLS; ask again for standard RDP security */
		p->out->retried = true;
		hang_up(p);
		if (!connect_server(p))
			return -1;
		negotiation_server_connected(p->n);
		return 1;
	case NEGO_START_TLS:
		p->stream = md9_tls_stream_new(p->fd, NULL);
		if (!p->stream) {
			failed(p, MD9_PROBE_ERROR, NULL, "out of memory");
			return -1;
		}
		p->fd = -1;
		if (!tls_handshake(p))
			return -1;
		negotiation_tls_done(p->n);
		return 1;
	case NEGO_REFUSED:
	case NEGO_FAIL:
		adapter_failed(p, a->why);
		return -1;
	case NEGO_RELAY:
		p->out->verdict = p->stream                         ? MD9_PROBE_TLS
		                  : r.selected == X224_PROTOCOL_RDP ? MD9_PROBE_PLAIN
		                                                    : MD9_PROBE_VMCONNECT;
		return 0;
	}
	failed(p, MD9_PROBE_ERROR, NULL, "internal error: unknown negotiation action");
	return -1;
}

/* Runs the negotiation to its end: its actions in order, then the bytes it
 * wants next. */
static bool run(struct probe *p)
{
	if (!connect_server(p))
		return false;
	negotiation_server_connected(p->n);
	for (;;) {
		const struct negotiation_action *next = negotiation_action(p->n);

		if (next) {
			struct negotiation_action a = *next; /* its data lives until the end */
			int r;

			negotiation_pop(p->n);
			r = act(p, &a);
			if (r <= 0)
				return r == 0;
		} else if (negotiation_wants_host(p->n)) {
			host_in(p);
		} else if (negotiation_wants_server(p->n)) {
			if (!server_in(p))
				return false;
		} else {
			return failed(p, MD9_PROBE_ERROR, NULL,
			              "internal error: the negotiation waits for nothing");
		}
	}
}

bool md9_probe_server(const struct md9_backend *b, enum md9_security mode,
                      const struct md9_tls_pin *pin, int timeout_ms, struct md9_probe_result *out)
{
	struct probe p = {.b = b, .pin = pin, .out = out, .fd = -1};
	bool ok;

	memset(out, 0, sizeof(*out));
	/* require_tls: a pin means TLS or nothing, as md9's sessions (session.c) */
	p.n = negotiation_new(mode, pin && pin->set, 0);
	if (!p.n) {
		out->verdict = MD9_PROBE_ERROR;
		snprintf(out->why, sizeof(out->why), "out of memory");
		return false;
	}
	negotiation_quiet(p.n);
	p.deadline = timespec_in_ms(timeout_ms > 0 ? (unsigned)timeout_ms : 0);
	ok = run(&p);
	if (!ok && !out->why[0])
		snprintf(out->why, sizeof(out->why), "the negotiation ended");
	hang_up(&p);
	negotiation_free(p.n);
	return ok;
}

const char *md9_probe_verdict_name(enum md9_probe_verdict v)
{
	switch (v) {
	case MD9_PROBE_TLS:
		return "TLS";
	case MD9_PROBE_PLAIN:
		return "standard RDP security without encryption";
	case MD9_PROBE_VMCONNECT:
		return "vmconnect mode";
	case MD9_PROBE_ENCRYPTS:
		return "encrypts";
	case MD9_PROBE_NLA:
		return "NLA only";
	case MD9_PROBE_NO_VMCONNECT:
		return "no vmconnect mode";
	case MD9_PROBE_REFUSED:
		return "refused";
	case MD9_PROBE_ERROR:
		break;
	}
	return "error";
}
