/* The host's side of the SynthRdp control channel (protocol.md §3): offer
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
	/* Garbled answers (fault injection, hostsim/fault.h): */
	VERSION_ERROR,        /* an Error message (type 0) instead */
	VERSION_UNKNOWN_TYPE, /* a 17-byte message of type 7 */
	VERSION_SHORT,        /* 4 bytes: shorter than a message header */
	VERSION_TWICE,        /* two accepted VersionResponses */
	VERSION_CREATE_FIRST, /* a CreateSession, then the accepted VersionResponse */
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

/* ---- for fault injection (hostsim/fault.c) ---- */

/* How many data instances sessions rotate over: 99221FA1, FA2, ... (default
 * 5, the known ones; more for testing md9 beyond them; at most 64). */
void hostctl_set_instances(struct hostctl *c, unsigned n);
/* Change the answer to the next VersionRequests. */
void hostctl_set_version_reply(struct hostctl *c, enum version_reply reply);
/* The offered data device of `instance`, or with NULL the most recently
 * offered one; NULL when none. */
struct simdev *hostctl_data_dev(struct hostctl *c, const struct md9_guid *instance);
/* The control device (NULL while rescinded). */
struct simdev *hostctl_control_dev(struct hostctl *c);
/* Rescind the data channel of `instance` (NULL: every one); the front end
 * owning it sees closed() and drops its client. Returns how many. */
int hostctl_rescind_data(struct hostctl *c, const struct md9_guid *instance);
/* Call fn for each offered data device (fn may end that session). */
void hostctl_for_each_data(struct hostctl *c, void (*fn)(struct simdev *dev, void *arg), void *arg);
/* The data instance whose open channel is hc, or NULL. */
const struct md9_guid *hostctl_instance_of(struct hostctl *c, const struct hostchan *hc);
/* Send raw bytes as one control message (one pipe packet). */
void hostctl_send_raw(struct hostctl *c, const uint8_t *msg, size_t len);

#endif
