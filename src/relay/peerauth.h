/* Who is the RDP server? md9 authenticates the local server on every new
 * connection, after connect() completed and before the first byte of the
 * host's stream is written to it: the stream carries what the vmconnect
 * user types, the login password first, and any local user can listen on a
 * free TCP port (3389 is not privileged) or on a UNIX socket path it may
 * create.
 *
 *  unix:  SO_PEERCRED of the connected socket: the credentials the server
 *         had when it called listen() (Linux unix(7)).
 *  tcp:   the uid of the server's end of *this* connection, found through
 *         NETLINK_SOCK_DIAG (inet_diag, an exact lookup by both addresses
 *         and ports, allowed to unprivileged users; Linux sock_diag(7)).
 *         Its uid is that of the socket's inode, i.e. of the process that
 *         accept()ed it; before accept() the kernel has no inode for it and
 *         reports uid 0, so md9 waits until the server accepted
 *         (MD9_PEERAUTH_PENDING) instead of taking that 0 for root.
 *  vsock: no peer credentials exist; only ports below 1024 are accepted
 *         (config.c), which only a process with CAP_NET_BIND_SERVICE may
 *         bind (Linux net/vmw_vsock/af_vsock.c, LAST_RESERVED_PORT).
 *
 * Allowed: root, md9's own uid (that user can read md9's memory anyway) and
 * the configured server user (server_user; by default Debian's `xrdp`). */
#ifndef MD9_PEERAUTH_H
#define MD9_PEERAUTH_H

#include "backend.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The server_user setting, resolved when the configuration is loaded. */
struct md9_peer_policy {
	bool has_user; /* false: only root and md9's own uid */
	uid_t uid;     /* the server user's uid when has_user */
	char name[64]; /* its name, for the log */
	bool self_set; /* doctor: md9's uid is self_uid, not the caller's euid */
	uid_t self_uid;
};

enum {
	MD9_PEERAUTH_OK = 1,      /* an allowed user serves this connection */
	MD9_PEERAUTH_PENDING = 0, /* tcp: the server has not accept()ed it yet; ask again */
	MD9_PEERAUTH_REFUSED = -1, /* a stranger, or it cannot be told (*why) */
	MD9_PEERAUTH_GONE = -2     /* tcp: the server closed the connection already */
};

/* Resolve `name` ("" = the default: user xrdp if it exists, else nobody
 * beyond root and md9's own uid). 0, or -1 with *why (no such user). */
int md9_peer_policy_resolve(const char *name, struct md9_peer_policy *p, const char **why);

/* Is uid allowed by p? */
bool md9_peer_allowed(const struct md9_peer_policy *p, uid_t uid);

/* Check the server at the other end of fd (connected to b). *uid is the
 * server's uid when known ((uid_t)-1 otherwise). why: a one-line reason for
 * PENDING and REFUSED. */
int md9_peerauth_check(int fd, const struct md9_backend *b, const struct md9_peer_policy *p,
                       uid_t *uid, char *why, size_t cap);

/* The uid of the TCP socket at the other end of connected socket fd, when
 * it is on this machine. 1: found and accept()ed; 0: found, not accepted
 * yet; -errno: not found (-ENOENT), closing (-ECONNRESET) or the lookup
 * failed. */
int md9_peerauth_tcp_uid(int fd, uid_t *uid);

/* "xrdp (uid 102)" or "uid 1234" */
const char *md9_peer_user_name(uid_t uid, char *buf, size_t cap);

#endif
