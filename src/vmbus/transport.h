/* How md9 reaches VMBus channels. Two implementations share this interface:
 *  - uio (transport_uio.c, uio_*.c): real Hyper-V through uio_hv_generic (protocol.md §6);
 *  - sim (transport_sim.c): md9-hostsim over a UNIX socket; only offers,
 *    rescinds and file descriptors travel there, every data byte goes through
 *    the shared-memory rings of ring.c exactly as on Hyper-V.
 * Everything is non-blocking and driven by the caller's event loop
 * (evloop.h): the transport's own deadlines are ev_timers in it. */
#ifndef MD9_TRANSPORT_H
#define MD9_TRANSPORT_H

#include "guid.h"
#include "ring.h"
#include "roots.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

struct ev_loop;
struct md9_transport;

enum md9_dev_event_kind {
	MD9_DEV_OFFER,   /* a device with this class/instance exists now */
	MD9_DEV_RESCIND, /* it is gone */
};

struct md9_dev_event {
	enum md9_dev_event_kind kind;
	struct md9_guid class_id;
	struct md9_guid instance;
};

typedef void (*md9_dev_event_cb)(void *arg, const struct md9_dev_event *ev);

/* An open channel. tx is the guest->host ring, rx host->guest. */
struct md9_channel {
	struct md9_transport *tp;
	struct md9_guid instance;
	struct vmbus_ring tx;
	struct vmbus_ring rx;
	/* Readable when the host signalled this channel (uio fd / eventfd).
	 * Its owner registers it with ev_set_first (evloop.h): an error or
	 * hang-up on it is handled before any other event of the same batch. */
	int fd;
	void *priv;
	/* The host rescinded the channel: ack or signal failed with -EIO, the
	 * fd reported EPOLLERR/EPOLLHUP, or the device went away. From 6.11
	 * the kernel frees the ring pages at rescind while they are still
	 * mapped (kernel-facts K4 in docs/uio.md), so once this is set nothing
	 * may read or write tx, rx or the doorbell pages again: close() only. */
	bool gone;
};

struct md9_transport_ops {
	const char *name;
	/* Ask for devices of this class (uio: new_id; EEXIST is success). */
	int (*bind_class)(struct md9_transport *tp, const struct md9_guid *class_id);
	/* Readable when device events may be pending; -1 if the transport has
	 * none (then the caller rescans on a timer). */
	int (*event_fd)(struct md9_transport *tp);
	/* Report device changes since the last call (the first call reports
	 * every present device of a bound class as an offer). Returns the
	 * number of events delivered; <0: the transport itself failed. */
	int (*poll_events)(struct md9_transport *tp, md9_dev_event_cb cb, void *arg);
	/* Open the device with this instance GUID. -ENOENT: not offered (yet);
	 * -EAGAIN: present but not ready (not bound to the driver yet, its node
	 * missing, or the node not ours yet: EACCES before udev applied the
	 * rule); retry on the next device event or a bounded timer, never drop
	 * the channel for it. -ENODEV: it can never be opened again (the kernel
	 * kept a rescinded device); the transport reported it and reports the
	 * device rescinded. On -EAGAIN and -ENODEV tp->why says why, for the
	 * caller's warning. */
	int (*open)(struct md9_transport *tp, const struct md9_guid *instance,
		    struct md9_channel **out);
	/* Doorbell to the host. */
	int (*signal)(struct md9_channel *ch);
	/* Consume the pending notification after ch->fd became readable.
	 * 0: done (or none pending); -EIO: the host rescinded the channel.
	 * Callers use md9_channel_ack/md9_channel_signal, which keep ch->gone. */
	int (*ack)(struct md9_channel *ch);
	/* Close: the host sees the channel closed. */
	void (*close)(struct md9_channel *ch);
	/* Optional: fault in the channel's ring memory now. uio maps every page
	 * at mmap time and has none; the sim transport maps its memfd lazily at
	 * open so that the caller can start connecting to the server first. */
	void (*prefault)(struct md9_channel *ch);
	void (*destroy)(struct md9_transport *tp);
};

struct md9_transport {
	const struct md9_transport_ops *ops;
	/* Why the last open() returned -EAGAIN or -ENODEV ("" otherwise). */
	char why[512];
};

/* uio: devices under roots->sys, their nodes under roots->dev (tests point
 * both into a fake tree). Its rescan and watchdog deadline is an ev_timer in
 * loop, which must outlive the transport; when it expires, event_fd becomes
 * readable. */
struct md9_transport *md9_transport_uio_new(const struct md9_roots *roots, struct ev_loop *loop);
/* sim: connect to md9-hostsim's bus socket. */
struct md9_transport *md9_transport_sim_new(const char *socket_path);
/* "uio" (on roots, timers in loop) or "sim:PATH". NULL with a logged reason
 * on error. */
struct md9_transport *md9_transport_new(const char *spec, const struct md9_roots *roots,
                                        struct ev_loop *loop);

/* Doorbell to the host; -EIO (and nothing done) once the channel is gone. */
static inline int md9_channel_signal(struct md9_channel *ch)
{
	int rc;

	if (ch->gone)
		return -EIO;
	rc = ch->tp->ops->signal(ch);
	if (rc == -EIO)
		ch->gone = true;
	return rc;
}

/* Consume the channel's pending notification; -EIO: the host rescinded it. */
static inline int md9_channel_ack(struct md9_channel *ch)
{
	int rc = ch->gone ? -EIO : ch->tp->ops->ack(ch);

	if (rc == -EIO)
		ch->gone = true;
	return rc;
}

#endif
