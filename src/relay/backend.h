/* The local RDP server md9 hands each session to: tcp:HOST:PORT (IPv4, or
 * IPv6 in brackets), unix:/path, or vsock:CID:PORT. md9 only ever connects
 * out; it listens on no network address. */
#ifndef MD9_BACKEND_H
#define MD9_BACKEND_H

#include <stdint.h>
#include <sys/socket.h>

struct md9_backend {
	char spec[256];
	int family; /* AF_INET/AF_INET6 after resolving, AF_UNIX, AF_VSOCK; 0 = tcp, resolve at connect */
	char host[200];
	char port[16];
	char path[108];
	uint32_t cid, vport;
};

/* 0, or -1 with *why. */
int md9_backend_parse(const char *spec, struct md9_backend *out, const char **why);
/* Start a non-blocking connect. Returns the socket (connect may still be in
 * progress: wait for EPOLLOUT, then md9_backend_connected) or -errno. */
int md9_backend_connect(const struct md9_backend *b);
/* 0 when the connect finished well, else -errno (SO_ERROR). */
int md9_backend_connected(int fd);

#endif
