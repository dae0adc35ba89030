/* md9-hostsim's RDP front end: towards a real RDP client it behaves as the
 * Hyper-V host does (protocol.md §1, §7): it answers the client's X.224
 * Connection Request selecting TLS, completes TLS itself, then opens a
 * session (CreateSession + data channel), forwards the client's original
 * Connection Request into it, consumes the guest's Connection Confirm, and
 * relays the decrypted stream both ways. */
#ifndef HOSTSIM_RDPFRONT_H
#define HOSTSIM_RDPFRONT_H

#include "hostctl.h"

/* Returns the port listened on, or -1. */
int rdpfront_start(struct ev_loop *loop, struct hostctl *ctl, const char *addr, bool allow_remote);
/* Close every connection and the listener (before hostctl_free). */
void rdpfront_stop(void);

#endif
