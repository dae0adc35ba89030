/* How md9 reaches VMBus channels. Two implementations share this interface:
 *  - uio (transport_uio.c): real Hyper-V through uio_hv_generic (protocol.md §6);
 *  - sim (transport_sim.c): md9-hostsim over a UNIX socket; only offers,
 *    rescinds and file descriptors travel there, every data byte goes through
 *    the shared-memory rings of ring.c exactly as on Hyper-V.
 * Everything is non-blocking and driven by the caller's epoll loop. */
#ifndef MD9_TRANSPORT_H
#define MD9_TRANSPORT_H

#include "guid.h"
#include "ring.h"

#include <stdbool.h>
#include <stddef.h>

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
	/* Readable when the host signalled this channel (uio fd / eventfd). */
	int fd;
	void *priv;
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
	 * -EAGAIN: present but not ready (uio node not there yet). */
	int (*open)(struct md9_transport *tp, const struct md9_guid *instance,
		    struct md9_channel **out);
	/* Doorbell to the host. */
	int (*signal)(struct md9_channel *ch);
	/* Consume the pending notification after ch->fd became readable.
	 * 0: done (or none pending); -EIO: the host rescinded the channel. */
	int (*ack)(struct md9_channel *ch);
	/* Close: the host sees the channel closed. */
	void (*close)(struct md9_channel *ch);
	void (*destroy)(struct md9_transport *tp);
};

struct md9_transport {
	const struct md9_transport_ops *ops;
};

/* uio: sysfs_root is normally "/sys", dev_root "/dev"; tests point them at a
 * fake tree. */
struct md9_transport *md9_transport_uio_new(const char *sysfs_root, const char *dev_root);
/* sim: connect to md9-hostsim's bus socket. */
struct md9_transport *md9_transport_sim_new(const char *socket_path);
/* "uio" or "sim:PATH". NULL with a logged reason on error. */
struct md9_transport *md9_transport_new(const char *spec);

static inline int md9_channel_signal(struct md9_channel *ch)
{
	return ch->tp->ops->signal(ch);
}

#endif
