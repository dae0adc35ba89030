/* md9-hostsim's bus: the devices offered to the guest and channel
 * open/close as the guest asks. The guest is either md9's sim transport on a
 * UNIX socket (simbus_new; one at a time, as one VM has one VMBus) or the
 * emulated guest kernel of hostsim/uiokern.c (simbus_new_guest), which
 * presents the devices to md9's uio transport as uio_hv_generic does. */
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

/* A guest that lives in this process (the emulated kernel). offer runs for
 * every device offered. A rescind runs rescind, then the host's side closes
 * the channel (closed()), then gone, then the device is freed. */
struct simbus_guest_ops {
	void (*offer)(void *arg, struct simdev *dev);
	void (*rescind)(void *arg, struct simdev *dev);
	void (*gone)(void *arg, struct simdev *dev);
};

struct simbus *simbus_new(struct ev_loop *loop, const char *path, size_t ring_size);
struct simbus *simbus_new_guest(struct ev_loop *loop, size_t ring_size,
				const struct simbus_guest_ops *ops, void *arg);
/* The in-process guest opens the device's channel: dev->chan is created and
 * the host's opened() runs. 0, -EBUSY (open already) or -ENOMEM. */
int simbus_guest_open(struct simdev *dev);
/* The in-process guest closed the channel (the host's closed() runs). */
void simbus_guest_close(struct simdev *dev);
size_t simbus_ring_size(const struct simbus *bus);
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
