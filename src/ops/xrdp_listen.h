/* Where xrdp listens, as md9 setup wants it (xrdp.ini [Globals] port=, a
 * space-separated list; xrdp 0.9.21 spells a UNIX socket
 * "unix://./ABSOLUTE/PATH", see Debian's xrdp.ini). */
#ifndef MD9_XRDP_LISTEN_H
#define MD9_XRDP_LISTEN_H

#include "doctor.h"

#include <stdbool.h>
#include <stddef.h>

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
int md9_xrdp_port_for(const struct md9_xrdp_ini *x, bool add_unix, bool no_network,
                      const char *sock, char *out, size_t cap);

#endif
