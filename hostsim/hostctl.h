/* The host's side of the SynthRdp control channel (protocol-facts §3): offer
 * the control channel, answer the guest's VersionRequest, and for each new
 * client connection send CreateSession naming the next data instance
 * (99221FA1 ... 99221FA5, rotating) and offer that data channel. */
#ifndef HOSTSIM_HOSTCTL_H
#define HOSTSIM_HOSTCTL_H

#include "simbus.h"

enum version_reply {
	VERSION_ACCEPT,    /* is_accepted = 2 */
	VERSION_REJECT,    /* is_accepted = 0 */
	VERSION_MALFORMED, /* a 9-byte VersionResponse */
	VERSION_SILENT,    /* never answer */
};

struct hostctl;

struct hostctl *hostctl_new(struct simbus *bus, enum version_reply reply);
void hostctl_free(struct hostctl *c);
int version_reply_parse(const char *s, enum version_reply *out);
/* Start a session: CreateSession, then offer the data channel with `ops`.
 * Queued until the guest has completed the version exchange. Returns a
 * handle for hostctl_end_session, or NULL when all five instances are busy. */
struct hostctl_session *hostctl_start_session(struct hostctl *c, const struct simdev_ops *ops,
					      void *owner);
/* Rescind the data channel (or drop the queued request). */
void hostctl_end_session(struct hostctl_session *hs);
/* The data device once offered (NULL while queued). */
struct simdev *hostctl_session_dev(struct hostctl_session *hs);
/* Fault injection: rescind the control channel, and offer it again. */
void hostctl_rescind_control(struct hostctl *c);
void hostctl_offer_control(struct hostctl *c);
/* Fault injection: send CreateSession for an instance that is never offered. */
void hostctl_create_session_unoffered(struct hostctl *c, const struct md9_guid *instance);
bool hostctl_ready(const struct hostctl *c);

#endif
