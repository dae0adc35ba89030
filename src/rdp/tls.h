/* md9 as the TLS client of the local RDP server (--security tls/auto): the
 * host's plaintext RDP stream becomes the inside of this TLS, so any
 * TLS-capable server works unmodified. The server is local; its certificate
 * is not verified unless a SHA-256 fingerprint pin is configured. */
#ifndef MD9_TLS_H
#define MD9_TLS_H

#include "stream.h"

#include <stdbool.h>
#include <stdint.h>

struct md9_tls_pin {
	bool set;
	uint8_t sha256[32];
};

/* "AB:CD:..." or "abcd..." (64 hex digits), optional "sha256:" prefix. */
int md9_tls_pin_parse(const char *s, struct md9_tls_pin *out);

/* Wrap connected socket fd (ownership moves into the stream). */
struct md9_stream *md9_tls_stream_new(int fd, const char *sni);
/* The server side, for md9-hostsim's RDP front end: ssl_ctx is an SSL_CTX
 * holding the certificate and key. */
struct md9_stream *md9_tls_stream_new_server(int fd, void *ssl_ctx);
/* Drive the handshake: 0 done, -EAGAIN call again when the fd is ready for
 * md9_stream events_for(), <0 failed (*why). Checks the pin when done. */
int md9_tls_handshake(struct md9_stream *s, const struct md9_tls_pin *pin, const char **why);
/* "TLSv1.3 TLS_AES_256_GCM_SHA384" after the handshake. */
const char *md9_tls_describe(struct md9_stream *s, char *buf, size_t len);
/* Bytes decrypted and buffered inside the TLS layer: a reader must not wait
 * for the socket while this is non-zero. */
bool md9_tls_has_buffered(struct md9_stream *s);

#endif
