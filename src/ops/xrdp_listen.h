/* Where xrdp listens: the listeners of xrdp.ini's [Globals] port= (a list
 * separated by spaces or commas: "3389" every interface, tcp://HOST:PORT,
 * tcp6://, vsock://CID:PORT, and in xrdp 0.9.21 a UNIX socket as
 * "unix://./ABSOLUTE/PATH", see Debian's xrdp.ini), what doctor asks of
 * them and what md9 setup makes of them. */
#ifndef MD9_XRDP_LISTEN_H
#define MD9_XRDP_LISTEN_H

#include "xrdp_ini.h"

#include <stdbool.h>
#include <stddef.h>

/* Does xrdp listen on TCP `port` (port=3389, tcp://.:3389, tcp6://...)? */
bool md9_xrdp_listen_tcp(const struct md9_xrdp_ini *x, unsigned port);
/* Does it listen on vsock (vsock://CID:PORT, or use_vsock=true)? *only:
 * on nothing else. */
bool md9_xrdp_listen_vsock(const struct md9_xrdp_ini *x, bool *only);
/* A listener that the network reaches (not loopback, not unix://,
 * vsock://), copied to buf; NULL when there is none. */
const char *md9_xrdp_listen_network(const struct md9_xrdp_ini *x, char *buf, size_t cap);
/* One listener of port= ("3389", "tcp://.:3389", "unix://./p", ...): does
 * the network reach it? */
bool md9_xrdp_listen_is_network(const char *l, const struct md9_xrdp_ini *x);

/* The socket md9 setup gives xrdp and md9 by default: /run/xrdp is xrdp's
 * RuntimeDirectory (Debian's xrdp.service, User=xrdp), which only xrdp
 * (and root) can write. */
#define MD9_XRDP_SOCKET "/run/xrdp/xrdp.sock"

/* The new port= value, in out:
 *   add_unix     add the unix://. listener for `sock` (kept if present);
 *   no_network   the listeners will carry unencrypted RDP (crypt_level=none):
 *                drop every listener the network reaches; when that would
 *                leave TCP with nothing and !add_unix, listen on
 *                tcp://.:PORT (127.0.0.1) instead.
 * Returns 1 when it differs from x->port, 0 when not, -1 when out is too
 * small. */
int md9_xrdp_listen_port_for(const struct md9_xrdp_ini *x, bool add_unix, bool no_network,
                             const char *sock, char *out, size_t cap);

#endif
