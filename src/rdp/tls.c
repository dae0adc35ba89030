#include "tls.h"

#include "log.h"
#include "number.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

/* OpenSSL's largest record payload; one SSL_write per record keeps a retried
 * write identical to the one that could not finish. */
#define TLS_WRITE_CHUNK 16384

struct tls_stream {
	struct md9_stream base;
	SSL *ssl;
	bool want_read, want_write; /* what the last blocked call needs */
	size_t retry_len;           /* length of an SSL_write that must be repeated */
	bool alert_pending;         /* close_notify queued, not yet on the socket */
	char why[160];
};

static SSL_CTX *client_ctx;

static SSL_CTX *get_ctx(void)
{
	if (client_ctx)
		return client_ctx;
	client_ctx = SSL_CTX_new(TLS_client_method());
	if (!client_ctx)
		return NULL;
	/* The server is local and usually self-signed: trust comes from the
	 * optional pin, checked after the handshake. */
	SSL_CTX_set_verify(client_ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_mode(client_ctx,
	                 SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_min_proto_version(client_ctx, TLS1_2_VERSION);
	return client_ctx;
}

int md9_tls_pin_parse(const char *s, struct md9_tls_pin *out)
{
	int n = 0;

	memset(out, 0, sizeof(*out));
	if (strncmp(s, "sha256:", 7) == 0)
		s += 7;
	while (*s) {
		if (*s == ':') {
			s++;
			continue;
		}
		int hi = md9_number_hexdigit(s[0]), lo = hi < 0 ? -1 : md9_number_hexdigit(s[1]);
		if (hi < 0 || lo < 0 || n == 32)
			return -1;
		out->sha256[n++] = (uint8_t)(hi << 4 | lo);
		s += 2;
	}
	if (n != 32)
		return -1;
	out->set = true;
	return 0;
}

/* Map an SSL result to -EAGAIN (with want flags) or a failure. */
static ssize_t tls_result(struct tls_stream *t, int rc, int ret)
{
	int err = SSL_get_error(t->ssl, ret);

	t->want_read = t->want_write = false;
	switch (err) {
	case SSL_ERROR_WANT_READ:
		t->want_read = true;
		return -EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		t->want_write = true;
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		snprintf(t->why, sizeof(t->why), "TLS transport: %s",
		         errno ? strerror(errno) : "unexpected EOF");
		ERR_clear_error();
		return errno ? -errno : -ECONNRESET;
	default: {
		unsigned long e = ERR_get_error();
		snprintf(t->why, sizeof(t->why), "TLS: %s",
		         e ? ERR_reason_error_string(e) : "protocol error");
		ERR_clear_error();
		(void)rc;
		return -EPROTO;
	}
	}
}

static ssize_t tls_readv(struct md9_stream *s, const struct iovec *iov, int iovcnt)
{
	struct tls_stream *t = (struct tls_stream *)s;
	size_t total = 0;

	for (int i = 0; i < iovcnt; i++) {
		size_t got = 0;
		int ret = SSL_read_ex(t->ssl, iov[i].iov_base, iov[i].iov_len, &got);
		if (ret <= 0) {
			ssize_t r = tls_result(t, 0, ret);
			if (total > 0 && (r == -EAGAIN || r == 0))
				return (ssize_t)total; /* report EOF/again on the next call */
			return r;
		}
		total += got;
		if (got < iov[i].iov_len)
			break;
	}
	return (ssize_t)total;
}

static ssize_t tls_writev(struct md9_stream *s, const struct iovec *iov, int iovcnt)
{
	struct tls_stream *t = (struct tls_stream *)s;
	size_t total = 0;

	for (int i = 0; i < iovcnt; i++) {
		size_t off = 0;
		while (off < iov[i].iov_len) {
			size_t len = iov[i].iov_len - off, done = 0;
			if (len > TLS_WRITE_CHUNK)
				len = TLS_WRITE_CHUNK;
			/* A write that returned WANT_* is repeated with the same
			 * bytes; they are still the first unconsumed ones. */
			if (t->retry_len && total == 0 && off == 0 &&
			    t->retry_len <= iov[i].iov_len)
				len = t->retry_len;
			int ret =
			    SSL_write_ex(t->ssl, (uint8_t *)iov[i].iov_base + off, len, &done);
			if (ret <= 0) {
				ssize_t r = tls_result(t, 0, ret);
				if (r == -EAGAIN && total == 0 && off == 0)
					t->retry_len = len;
				if (total + off > 0 && r == -EAGAIN)
					return (ssize_t)(total + off);
				return r == 0 ? -EPIPE : r;
			}
			t->retry_len = 0;
			off += done;
		}
		total += off;
	}
	return (ssize_t)total;
}

static uint32_t tls_events_for(struct md9_stream *s, bool want_read, bool want_write)
{
	struct tls_stream *t = (struct tls_stream *)s;
	uint32_t ev = 0;

	if (want_read)
		ev |= EPOLLIN;
	if (want_write)
		ev |= EPOLLOUT;
	/* A blocked TLS operation may need the other direction of the socket. */
	if (t->want_read)
		ev |= EPOLLIN;
	if (t->want_write)
		ev |= EPOLLOUT;
	return ev;
}

/* close_notify (TLS's own end of stream, RFC 8446 6.1), then TCP's FIN.
 * SSL_shutdown is called only to send the alert (again only to flush it):
 * a call after that would wait for the peer's alert, and reading goes on
 * through SSL_read instead. */
static int tls_shutdown_write(struct md9_stream *s)
{
	struct tls_stream *t = (struct tls_stream *)s;

	if (!(SSL_get_shutdown(t->ssl) & SSL_SENT_SHUTDOWN) || t->alert_pending) {
		int ret = SSL_shutdown(t->ssl);

		t->alert_pending = false;
		if (ret < 0) {
			ssize_t r = tls_result(t, 0, ret);

			if (r == -EAGAIN && t->want_write) {
				t->alert_pending = true;
				return -EAGAIN;
			}
			/* WANT_READ: our alert went out, the peer's is not here. */
			t->want_read = t->want_write = false;
			if (r != -EAGAIN)
				return r == 0 ? -EPIPE : (int)r;
		}
	}
	return shutdown(s->fd, SHUT_WR) < 0 ? -errno : 0;
}

static void tls_free(struct md9_stream *s)
{
	struct tls_stream *t = (struct tls_stream *)s;

	if (t->ssl) {
		SSL_set_quiet_shutdown(t->ssl, 0);
		SSL_shutdown(t->ssl); /* best effort close_notify; non-blocking */
		SSL_free(t->ssl);
	}
	close(s->fd);
	free(t);
}

static const struct md9_stream_ops tls_ops = {
    .readv = tls_readv,
    .writev = tls_writev,
    .events_for = tls_events_for,
    .shutdown_write = tls_shutdown_write,
    .free = tls_free,
};

/* A TLS stream over fd with a new SSL of ctx; NULL when ctx is NULL or out
 * of memory. The caller sets the side (connect or accept state). */
static struct tls_stream *tls_new(int fd, SSL_CTX *ctx)
{
	struct tls_stream *t = ctx ? calloc(1, sizeof(*t)) : NULL;

	if (!t)
		return NULL;
	t->ssl = SSL_new(ctx);
	if (!t->ssl || !SSL_set_fd(t->ssl, fd)) {
		SSL_free(t->ssl);
		free(t);
		return NULL;
	}
	t->base.ops = &tls_ops;
	t->base.fd = fd;
	return t;
}

struct md9_stream *md9_tls_stream_new(int fd, const char *sni)
{
	struct tls_stream *t = tls_new(fd, get_ctx());

	if (!t)
		return NULL;
	if (sni && *sni)
		SSL_set_tlsext_host_name(t->ssl, sni);
	SSL_set_connect_state(t->ssl);
	return &t->base;
}

struct md9_stream *md9_tls_stream_new_server(int fd, void *ssl_ctx)
{
	struct tls_stream *t = tls_new(fd, ssl_ctx);

	if (!t)
		return NULL;
	SSL_set_accept_state(t->ssl);
	return &t->base;
}

int md9_tls_handshake(struct md9_stream *s, const struct md9_tls_pin *pin, const char **why)
{
	struct tls_stream *t = (struct tls_stream *)s;
	int ret = SSL_do_handshake(t->ssl);

	if (ret <= 0) {
		ssize_t r = tls_result(t, 0, ret);
		if (r == -EAGAIN)
			return -EAGAIN;
		if (!t->why[0])
			snprintf(t->why, sizeof(t->why), "TLS handshake: connection closed");
		*why = t->why;
		return -EPROTO;
	}
	t->want_read = t->want_write = false;
	if (pin && pin->set) {
		X509 *cert = SSL_get1_peer_certificate(t->ssl);
		uint8_t md[32];
		unsigned mdlen = 0;
		bool ok = cert && X509_digest(cert, EVP_sha256(), md, &mdlen) && mdlen == 32 &&
		          memcmp(md, pin->sha256, 32) == 0;
		X509_free(cert);
		if (!ok) {
			snprintf(t->why, sizeof(t->why),
			         "the server's certificate does not match the configured tls_pin");
			*why = t->why;
			return -EPERM;
		}
	}
	return 0;
}

const char *md9_tls_describe(struct md9_stream *s, char *buf, size_t len)
{
	struct tls_stream *t = (struct tls_stream *)s;

	snprintf(buf, len, "%s %s", SSL_get_version(t->ssl), SSL_get_cipher_name(t->ssl));
	return buf;
}

bool md9_tls_has_buffered(struct md9_stream *s)
{
	if (s->ops != &tls_ops)
		return false;
	return SSL_has_pending(((struct tls_stream *)s)->ssl) != 0;
}
