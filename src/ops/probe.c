#include "probe.h"

#include "mcs.h"
#include "mcs_seed.h"
#include "stream.h"
#include "tpkt.h"
#include "x224.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

/* The probe's state: one connection at a time. */
struct probe {
	const struct md9_backend *b;
	const struct md9_tls_pin *pin;
	struct adapter a;
	struct md9_probe_result *out;
	struct timespec deadline;
	int fd;                    /* until a stream owns it */
	struct md9_stream *stream; /* plain or TLS, after the CC */
	bool tls;                  /* the adapter said ADAPTER_TLS */
	uint8_t buf[TPKT_MAX_LEN + 1];
	size_t len;
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

/* The adapter's verdict as the probe's. */
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

	return failed(p, of[p->a.cause], p->a.fix, "%s", why);
}

static int ms_left(const struct probe *p)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	long ms = (p->deadline.tv_sec - now.tv_sec) * 1000 +
	          (p->deadline.tv_nsec - now.tv_nsec) / 1000000;
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
	p->len = 0;
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

static bool stream_send_all(struct probe *p, uint8_t *d, size_t n)
{
	while (n) {
		struct iovec iov = {d, n};
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

/* One complete PDU in p->buf: the X.224 CC (plain socket) or, with cc false,
 * one TPKT from the stream. 1 read, 0 the server closed first, -1 failed. */
static int read_pdu(struct probe *p, bool cc, size_t *pdu)
{
	struct x224_cc parsed;
	const char *why = NULL;

	for (;;) {
		int r = cc ? x224_parse_cc(p->buf, p->len, &parsed, &why)
		           : tpkt_pdu_length(p->buf, p->len, pdu, &why);
		if (r < 0) {
			failed(p, MD9_PROBE_ERROR, NULL, "malformed answer from the server: %s",
			       why);
			return -1;
		}
		if (r == 1 && cc) {
			*pdu = parsed.pdu_len;
			return 1;
		}
		if (r == 1 && p->len >= *pdu)
			return 1;
		ssize_t k;
		if (cc) {
			k = recv(p->fd, p->buf + p->len, sizeof(p->buf) - p->len, MSG_DONTWAIT);
			if (k < 0)
				k = -errno;
		} else {
			struct iovec iov = {p->buf + p->len, sizeof(p->buf) - p->len};
			k = p->stream->ops->readv(p->stream, &iov, 1);
		}
		if (k == -EAGAIN || k == -EINTR) {
			int w = cc ? wait_for(p, p->fd, POLLIN) : stream_wait(p, true, false);
			if (w <= 0) {
				failed(p, MD9_PROBE_ERROR, NULL,
				       "the server did not answer within the timeout");
				return -1;
			}
			continue;
		}
		if (k <= 0)
			return 0;
		p->len += (size_t)k;
	}
}

/* X.224 negotiation: 1 go on, 0 ask again (auto's retry), -1 verdict made. */
static int negotiate(struct probe *p)
{
	uint8_t cr[X224_CR_MAX_LEN];
	size_t n = 0, pdu = 0;
	const char *why = NULL;
	struct x224_cr req;
	struct x224_cc cc;

	if (!connect_server(p))
		return -1;
	if (x224_parse_cr(mcs_seed_connection_request, sizeof(mcs_seed_connection_request), &req,
	                  &why) != 1 ||
	    adapter_rewrite_cr(&p->a, mcs_seed_connection_request, &req, cr, sizeof(cr), &n, &why) <
	        0) {
		failed(p, MD9_PROBE_ERROR, NULL, "cannot build the Connection Request: %s", why);
		return -1;
	}
	p->out->asked = p->a.asked;
	if (!send_all(p, cr, n))
		return -1;
	int r = read_pdu(p, true, &pdu);
	if (r == 0)
		failed(p, MD9_PROBE_ERROR, NULL,
		       "the server closed the connection before its Connection Confirm");
	if (r <= 0)
		return -1;
	x224_parse_cc(p->buf, p->len, &cc, NULL);
	switch (adapter_on_cc(&p->a, &cc, &why)) {
	case ADAPTER_RETRY_RDP:
		p->out->retried = true;
		hang_up(p);
		return 0;
	case ADAPTER_REFUSED:
	case ADAPTER_FAIL:
		p->out->selected = p->a.selected;
		adapter_failed(p, why);
		return -1;
	case ADAPTER_TLS:
		p->out->selected = p->a.selected;
		p->tls = true;
		p->stream = md9_tls_stream_new(p->fd, NULL);
		break;
	case ADAPTER_PLAIN:
		p->out->selected = p->a.selected;
		p->stream = md9_stream_socket(p->fd);
		break;
	}
	if (!p->stream) {
		failed(p, MD9_PROBE_ERROR, NULL, "out of memory");
		return -1;
	}
	p->fd = -1;
	memmove(p->buf, p->buf + pdu, p->len - pdu);
	p->len -= pdu;
	return 1;
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

static bool connect_initial(struct probe *p)
{
	uint8_t ci[sizeof(mcs_seed_connect_initial)];
	const char *why = NULL;
	size_t pdu = 0;

	memcpy(ci, mcs_seed_connect_initial, sizeof(ci));
	if (adapter_fix_connect_initial(&p->a, ci, sizeof(ci), &why) < 0)
		return failed(p, MD9_PROBE_ERROR, NULL, "cannot patch the Connect-Initial: %s",
		              why);
	if (!stream_send_all(p, ci, sizeof(ci)))
		return false;
	int r = read_pdu(p, false, &pdu);
	if (r < 0)
		return false;
	if (r == 0)
		return adapter_failed(p, adapter_no_connect_response(&p->a));
	switch (adapter_on_server_pdu(&p->a, p->buf, pdu, &why)) {
	case ADAPTER_PLAIN:
		break;
	default:
		return adapter_failed(p, why);
	}
	p->out->verdict = p->tls                               ? MD9_PROBE_TLS
	                  : p->a.selected == X224_PROTOCOL_RDP ? MD9_PROBE_PLAIN
	                                                       : MD9_PROBE_VMCONNECT;
	return true;
}

bool md9_probe_server(const struct md9_backend *b, enum md9_security mode,
                      const struct md9_tls_pin *pin, int timeout_ms, struct md9_probe_result *out)
{
	struct probe *p = calloc(1, sizeof(*p)); /* a 64 KiB buffer: not on the stack */
	bool ok = false;
	int r;

	memset(out, 0, sizeof(*out));
	if (!p) {
		out->verdict = MD9_PROBE_ERROR;
		snprintf(out->why, sizeof(out->why), "out of memory");
		return false;
	}
	p->b = b;
	p->pin = pin;
	p->out = out;
	p->fd = -1;
	adapter_init(&p->a, mode);
	p->a.require_tls = pin && pin->set; /* as md9's sessions (session.c) */
	clock_gettime(CLOCK_MONOTONIC, &p->deadline);
	p->deadline.tv_sec += timeout_ms / 1000;
	p->deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (p->deadline.tv_nsec >= 1000000000) {
		p->deadline.tv_sec++;
		p->deadline.tv_nsec -= 1000000000;
	}
	while ((r = negotiate(p)) == 0)
		;
	if (r > 0)
		ok = (!p->tls || tls_handshake(p)) && connect_initial(p);
	hang_up(p);
	free(p);
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
