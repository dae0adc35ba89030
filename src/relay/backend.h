/* The local RDP server md9 hands each session to: tcp:HOST:PORT (IPv4, or
 * IPv6 in brackets), unix:/path, or vsock:CID:PORT. md9 only ever connects
 * out; it listens on no network address. */
#ifndef MD9_BACKEND_H
#define MD9_BACKEND_H

#include <stdint.h>
#include <sys/socket.h>

struct md9_backend {
	char spec[256];
	int family; /* AF_INET/AF_INET6 after resolving, AF_UNIX, AF_VSOCK; 0 = tcp, not resolved
	               yet */
	char host[200];
	char port[16];
	char path[108];
	uint32_t cid, vport;
	struct sockaddr_storage addr; /* tcp, once resolved */
	socklen_t addrlen;
};

/* 0, or -1 with *why. Numbers are decimal digits only (no sign, no
 * spaces); a unix path must be absolute. */
int md9_backend_parse(const char *spec, struct md9_backend *out, const char **why);
/* tcp: look the host up now (getaddrinfo blocks: md9 does it when the
 * configuration is loaded, never from the event loop). 0, or -1 with a
 * one-line reason in why (a DNS failure says so). Other kinds: 0. */
int md9_backend_resolve(struct md9_backend *b, char *why, size_t cap);
/* Start a non-blocking connect (a tcp backend not resolved yet is resolved
 * first, blocking: only for one-shot callers like doctor). Returns the socket (connect may still be
 * in progress: wait for EPOLLOUT, then md9_backend_connected) or -errno. */
int md9_backend_connect(const struct md9_backend *b);
/* 0 when the connect finished well, else -errno (SO_ERROR). */
int md9_backend_connected(int fd);

#endif
