/* md9-hostsim's raw front end: each TCP connection on --raw-listen becomes a
 * session: CreateSession, a data channel, and the connection's bytes pumped
 * verbatim into and out of the rings, as the host does after its own
 * TLS/CredSSP with the real client. */
#ifndef HOSTSIM_RAW_H
#define HOSTSIM_RAW_H

#include "hostctl.h"

int raw_start(struct ev_loop *loop, struct hostctl *ctl, const char *addr, bool allow_remote);
/* Close every connection and the listener (before hostctl_free). */
void raw_stop(void);

#endif
