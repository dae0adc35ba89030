#include "rdpfront.h"

#include "cert.h"
#include "frontconn.h"
#include "log.h"
#include "tls.h"
#include "x224.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

#define CR_BUF 512 /* an X.224 CR is at most 259 bytes (x224.h) */
#define CC_BUF 4096

enum rdp_state {
	RS_READ_CR,  /* the client's Connection Request */
	RS_SEND_CC,  /* our Connection Confirm (selecting TLS) to the client */
	RS_TLS,      /* TLS handshake with the client */
	RS_WAIT_CH,  /* CreateSession sent; waiting for the guest to open the channel */
	RS_GUEST_CC, /* the client's CR went to the guest; waiting for its CC */
	RS_RELAY,
};

struct rdp_conn {
	struct frontconn fc; /* first: frontconn_close frees it */
	enum rdp_state state;
	int fd;
	struct md9_stream *tls;
	uint8_t cr[CR_BUF];
	size_t cr_len, cr_pdu;
	uint8_t cc[32];
	size_t cc_len, cc_off;
	uint8_t gcc[CC_BUF];
};

_Static_assert(offsetof(struct rdp_conn, fc) == 0, "frontconn_close frees the connection");

/* The listener and its TLS context. */
struct rdp_front {
	struct frontconn_server srv;
	void *ssl_ctx;
};

_Static_assert(offsetof(struct rdp_front, srv) == 0, "a connection's srv is its rdp_front");

static struct rdp_front *the_front;

static void close_client(struct frontconn *fc)
{
	struct rdp_conn *c = (struct rdp_conn *)fc;

	if (c->tls)
		c->tls->ops->free(c->tls);
	else
		close(c->fd);
}

/* Our Connection Confirm: TPKT, X.224 CC (LI 14, code 0xD0), RDP_NEG_RSP or
 * RDP_NEG_FAILURE (MS-RDPBCGR 2.2.1.2). */
static size_t build_cc(uint8_t out[19], bool failure, uint32_t value)
{
	static const uint8_t head[11] = {0x03, 0x00, 0x00, 0x13, 0x0e, 0xd0, 0, 0, 0, 0, 0};

	memcpy(out, head, sizeof(head));
	out[11] = failure ? 0x03 : 0x02;
	out[12] = failure ? 0x00 : 0x01; /* EXTENDED_CLIENT_DATA_SUPPORTED */
	out[13] = 0x08;
	out[14] = 0x00;
	out[15] = (uint8_t)value;
	out[16] = (uint8_t)(value >> 8);
	out[17] = (uint8_t)(value >> 16);
	out[18] = (uint8_t)(value >> 24);
	return 19;
}

static void set_events(struct rdp_conn *c, uint32_t ev)
{
	ev_mod(c->fc.srv->loop, &c->fc.h, ev);
}

static void conn_free(struct rdp_conn *c, const char *why)
{
	frontconn_close(&c->fc, why);
}

static void conn_pump(struct rdp_conn *c)
{
	frontconn_pump(&c->fc, c->tls);
}

/* The guest's Connection Confirm: logged and consumed; never shown to the
 * client, which already has ours. */
static void take_guest_cc(struct rdp_conn *c)
{
	struct iovec iov[16];
	struct x224_cc cc;
	const char *why = NULL;
	size_t len = 0;
	int niov, rc;
	ssize_t n = pipe_rx_peekv(&c->fc.hc->in, iov, 16, &niov, sizeof(c->gcc));

	if (n < 0) {
		conn_free(c, c->fc.hc->in.error);
		return;
	}
	for (int i = 0; i < niov; i++) {
		memcpy(c->gcc + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	rc = x224_parse_cc(c->gcc, len, &cc, &why);
	if (rc < 0) {
		log_warn("hostsim rdp %u: malformed Connection Confirm from the guest: %s",
		         c->fc.id, why);
		conn_free(c, "malformed Connection Confirm from the guest");
		return;
	}
	if (rc == 0) {
		if (vmbus_ring_unmask(&c->fc.hc->tx))
			take_guest_cc(c);
		return;
	}
	pipe_rx_consume(&c->fc.hc->in, cc.pdu_len);
	if (pipe_rx_commit(&c->fc.hc->in))
		hostchan_signal(c->fc.hc);
	if (cc.has_neg && cc.neg_type == X224_TYPE_RDP_NEG_FAILURE) {
		log_warn("hostsim rdp %u: the guest refused the connection: %s", c->fc.id,
		         x224_failure_name(cc.failure_code));
		conn_free(c, "negotiation failure from the guest");
		return;
	}
	log_info("hostsim rdp %u: guest selected %s; relaying the decrypted stream", c->fc.id,
	         x224_protocol_name(cc.has_neg ? cc.selected_protocol : X224_PROTOCOL_RDP));
	c->state = RS_RELAY;
	conn_pump(c);
}

static void dev_opened(struct simdev *d)
{
	struct rdp_conn *c = d->owner;

	c->fc.hc = d->chan;
	/* As the host does: the client's own Connection Request, unchanged. */
	if (pipe_tx_write(&c->fc.hc->out, c->cr, c->cr_pdu) != c->cr_pdu) {
		conn_free(c, "no room in the ring for the Connection Request");
		return;
	}
	if (pipe_tx_commit(&c->fc.hc->out))
		hostchan_signal(c->fc.hc);
	c->state = RS_GUEST_CC;
	vmbus_ring_unmask(&c->fc.hc->tx);
	take_guest_cc(c);
}

static void dev_closed(struct simdev *d)
{
	struct rdp_conn *c = d->owner;

	c->fc.hc = NULL;
	if (c->fc.hs)
		conn_free(c, "the guest closed the channel");
}

static void dev_signalled(struct simdev *d)
{
	struct rdp_conn *c = d->owner;

	if (c->state == RS_GUEST_CC)
		take_guest_cc(c);
	else if (c->state == RS_RELAY)
		conn_pump(c);
}

static const struct simdev_ops rdp_dev_ops = {
    .opened = dev_opened,
    .closed = dev_closed,
    .signalled = dev_signalled,
};

static void on_client(struct ev_handler *h, uint32_t events)
{
	struct rdp_conn *c = h->arg;
	struct x224_cr cr;
	const char *why = NULL;
	ssize_t n;
	int rc;

	switch (c->state) {
	case RS_READ_CR:
		n = recv(c->fd, c->cr + c->cr_len, sizeof(c->cr) - c->cr_len, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			conn_free(c, "the client went away before its Connection Request");
			return;
		}
		if (n < 0)
			return;
		c->cr_len += (size_t)n;
		rc = x224_parse_cr(c->cr, c->cr_len, &cr, &why);
		if (rc < 0) {
			log_warn("hostsim rdp %u: malformed Connection Request: %s", c->fc.id, why);
			conn_free(c, "malformed Connection Request");
			return;
		}
		if (rc == 0)
			return;
		if (c->cr_len != cr.pdu_len) {
			conn_free(c, "the client sent data before our Connection Confirm");
			return;
		}
		c->cr_pdu = cr.pdu_len;
		if (!(cr.requested_protocols & X224_PROTOCOL_SSL)) {
			log_warn("hostsim rdp %u: the client does not offer TLS (requested %s); "
			         "like the host, TLS is required",
			         c->fc.id, x224_protocol_name(cr.requested_protocols));
			c->cc_len = build_cc(c->cc, true, X224_SSL_REQUIRED_BY_SERVER);
		} else {
			c->cc_len = build_cc(c->cc, false, X224_PROTOCOL_SSL);
		}
		log_info("hostsim rdp %u: client requested %s; selecting %s", c->fc.id,
		         x224_protocol_name(cr.requested_protocols),
		         cr.requested_protocols & X224_PROTOCOL_SSL ? "SSL" : "nothing (failure)");
		c->state = RS_SEND_CC;
		/* fall through */
	case RS_SEND_CC:
		n = send(c->fd, c->cc + c->cc_off, c->cc_len - c->cc_off,
		         MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			conn_free(c, "cannot send our Connection Confirm");
			return;
		}
		if (n > 0)
			c->cc_off += (size_t)n;
		if (c->cc_off < c->cc_len) {
			set_events(c, EPOLLOUT);
			return;
		}
		if (c->cc[11] == 0x03) {
			conn_free(c, "the client does not support TLS");
			return;
		}
		c->tls = md9_tls_stream_new_server(c->fd, ((struct rdp_front *)c->fc.srv)->ssl_ctx);
		if (!c->tls) {
			conn_free(c, "cannot set up TLS");
			return;
		}
		c->state = RS_TLS;
		/* fall through */
	case RS_TLS:
		rc = md9_tls_handshake(c->tls, NULL, &why);
		if (rc == -EAGAIN) {
			set_events(c, c->tls->ops->events_for(c->tls, false, false));
			return;
		}
		if (rc < 0) {
			log_warn("hostsim rdp %u: TLS with the client failed: %s", c->fc.id, why);
			conn_free(c, "TLS handshake failed");
			return;
		}
		log_info("hostsim rdp %u: TLS with the client established", c->fc.id);
		/* The client's next bytes (MCS Connect-Initial) wait in the socket
		 * and TLS buffers until the guest has answered. */
		set_events(c, 0);
		c->state = RS_WAIT_CH;
		c->fc.hs = hostctl_start_session(c->fc.srv->ctl, &rdp_dev_ops, c);
		if (!c->fc.hs)
			conn_free(c, "no data instance free");
		return;
	case RS_RELAY:
		conn_pump(c);
		return;
	default:
		set_events(c, 0);
		return;
	}
}

static void accepted(struct frontconn_server *srv, int fd)
{
	struct rdp_conn *c;

	/* An RDP listener answers small PDUs at once, as xrdp does on its own
	 * sockets: with Nagle, each of chansrv's drive-write PDUs waited for
	 * the client's delayed ACK (~40 ms), so a copy into a redirected drive
	 * ran at ~100 KB/s (seen in e2e_drive_both_ways: notsent bytes behind
	 * one unacked segment in `ss -ti`). */
	{
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->fd = fd;
	frontconn_add(srv, &c->fc, fd, EPOLLIN, on_client);
}

int rdpfront_start(struct ev_loop *loop, struct hostctl *ctl, const char *addr, bool allow_remote)
{
	struct rdp_front *f = calloc(1, sizeof(*f));
	int port = -1;

	if (!f)
		return -1;
	f->srv.loop = loop;
	f->srv.ctl = ctl;
	f->srv.name = "rdp";
	f->srv.title = "RDP";
	f->srv.accepted = accepted;
	f->srv.close_client = close_client;
	f->ssl_ctx = cert_server_ctx();
	if (f->ssl_ctx)
		port = frontconn_listen(&f->srv, addr, allow_remote);
	if (port < 0) {
		SSL_CTX_free(f->ssl_ctx);
		free(f);
		return -1;
	}
	the_front = f;
	return port;
}

void rdpfront_stop(void)
{
	struct rdp_front *f = the_front;

	if (!f)
		return;
	frontconn_stop(&f->srv);
	SSL_CTX_free(f->ssl_ctx);
	free(f);
	the_front = NULL;
}
