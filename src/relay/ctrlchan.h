/* The guest's side of the SynthRdp control channel (protocol.md §3; the
 * messages are control.h's): VersionRequest 1.0, then the host's
 * VersionResponse, then CreateSession for each new client. The host is never
 * a reason to stop: every failure (bad message, I/O error, rescind, no
 * answer) closes the channel, logs why and opens it again after a bounded
 * exponential backoff (100 ms ... 30 s), or when the host offers it again.
 * A channel whose device is not ready yet (open() said -EAGAIN: K7 in
 * docs/uio.md) is no failure: it is tried again every 50 ms, after 5 s
 * warned about once, and from then on tried on every device event
 * (ctrlchan_retry). */
#ifndef MD9_CTRLCHAN_H
#define MD9_CTRLCHAN_H

#include "control.h"
#include "evloop.h"
#include "pipe.h"
#include "transport.h"

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct ctrlchan {
	struct ev_loop *loop;
	struct md9_transport *tp;
	/* CreateSession: the host asks for a session on this data channel. */
	void (*create_session)(void *arg, const struct md9_guid *instance);
	void *arg;

	enum ctrl_state state;
	struct md9_channel *ch; /* NULL while closed */
	struct ev_handler h;
	struct pipe_rx in;
	struct pipe_tx out;
	uint32_t host_version; /* what the host accepted (CTRL_READY) */
	unsigned failures;     /* consecutive, for the backoff */
	bool offered;          /* the host offers the channel now */
	struct ev_timer timer; /* VersionResponse deadline, end of the backoff, or the
	                        * next try while its device is not ready */
	struct timespec wait_since; /* CTRL_WAIT_READY since */
	bool wait_warned;           /* ...for long enough, and md9 said so */
	char why[512];              /* CTRL_WAIT_READY: why not (the transport's words) */
};

void ctrlchan_init(struct ctrlchan *c, struct ev_loop *loop, struct md9_transport *tp,
                   void (*create_session)(void *arg, const struct md9_guid *instance), void *arg);
/* The transport reports the control channel offered (open it when waiting
 * for that) or rescinded. */
void ctrlchan_offer(struct ctrlchan *c, const struct md9_guid *instance);
void ctrlchan_rescind(struct ctrlchan *c);
/* A device changed (a node's owner or mode included): when the channel's
 * device was not ready, try again now. */
void ctrlchan_retry(struct ctrlchan *c);
/* Close the channel (md9 stops). */
void ctrlchan_close(struct ctrlchan *c);

#endif
