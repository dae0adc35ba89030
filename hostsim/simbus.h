/* md9-hostsim's bus: the UNIX socket a guest (md9's sim transport) connects
 * to, the devices offered on it, and channel open/close as the guest asks.
 * One guest at a time, as one VM has one VMBus. */
#ifndef HOSTSIM_SIMBUS_H
#define HOSTSIM_SIMBUS_H

#include "evloop.h"
#include "guid.h"
#include "hostchan.h"

struct simbus;
struct simdev;

struct simdev_ops {
	/* The guest opened the channel; dev->chan is ready. */
	void (*opened)(struct simdev *dev);
	/* The guest closed it (or went away); dev->chan is freed after this. */
	void (*closed)(struct simdev *dev);
	/* The guest rang the doorbell. */
	void (*signalled)(struct simdev *dev);
};

struct simdev {
	struct simbus *bus;
	struct md9_guid class_id, instance;
	struct hostchan *chan; /* non-NULL while the guest has it open */
	const struct simdev_ops *ops;
	void *owner;
	struct ev_handler doorbell;
	bool offered;
	bool in_close;        /* closed() is running */
	bool rescind_pending; /* simbus_rescind was called from closed() */
	bool rescinding;
};

struct simbus *simbus_new(struct ev_loop *loop, const char *path, size_t ring_size);
void simbus_free(struct simbus *bus);
/* Offer a device (and tell the guest, if one is connected). */
struct simdev *simbus_offer(struct simbus *bus, const struct md9_guid *class_id,
			    const struct md9_guid *instance, const struct simdev_ops *ops,
			    void *owner);
/* Rescind: the guest is told; the device is freed (closed() runs first if
 * open). Safe to call from the device's own closed(): it then happens right
 * after that callback returns. */
void simbus_rescind(struct simdev *dev);
bool simbus_guest_connected(const struct simbus *bus);
/* Called when a guest connects (after HELLO) or disconnects; may be NULL. */
void simbus_set_guest_cb(struct simbus *bus, void (*cb)(void *arg, bool connected), void *arg);

#endif
