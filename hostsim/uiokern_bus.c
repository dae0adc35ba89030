/* The emulated kernel as the simbus's guest: the host's offers register
 * devices, its rescinds end them as the profile's kernel does (K3, K4). */
#include "uiokern_state.h"

#include "log.h"

#include <stdlib.h>
#include <string.h>

static void bus_offer(void *arg, struct simdev *sd)
{
	struct uiokern *k = arg;
	struct ukdev *d, *old = uiokern_dev_by_instance(k, &sd->instance);
	struct uiotree_dev td;
	char g[MD9_GUID_STRLEN];
	int err;

	md9_guid_format(&sd->instance, g);
	if (old) {
		/* Before the 2024-08 fix a rescinded device that had been opened
		 * stays registered, and "next onoffer msg does not come"
		 * (uio_hv_generic.c hv_uio_rescind, K3): this offer is lost. */
		log_warn("hostsim uio: the offer of %s is lost: the rescinded device is still "
		         "registered (kernel %s, before the rescind fix)",
		         g, k->o.profile->name);
		return;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return;
	d->k = k;
	d->sd = sd;
	d->class_id = sd->class_id;
	d->instance = sd->instance;
	memcpy(d->name, g, sizeof(d->name));
	/* The host assigns a new relid to every offer. */
	d->relid = k->next_relid++;
	d->monitored = k->o.monitored;
	if (d->monitored)
		d->monitor_id = k->next_monitor++ % 128;
	d->minor = -1;
	d->state_fd = -1;
	td = (struct uiotree_dev){.name = d->name,
	                          .class_id = d->class_id,
	                          .instance = d->instance,
	                          .relid = d->relid,
	                          .monitored = d->monitored,
	                          .monitor_id = d->monitor_id};
	err = uiotree_add_device(&k->tree, &td);
	if (err) {
		log_err("hostsim uio: registering %s: %s", g, strerror(-err));
		free(d);
		return;
	}
	d->next = k->devs;
	k->devs = d;
	log_info("hostsim uio: vmbus device %s registered (relid %u%s)", g, d->relid,
	         d->monitored ? ", monitored" : "");
	if (uiokern_dev_class_bound(k, &d->class_id))
		uiokern_dev_probe(d);
}

/* The host rescinds: from now on there is no channel behind the device
 * (the host's side closes it right after this). */
static void bus_rescind(void *arg, struct simdev *sd)
{
	struct ukdev *d = uiokern_dev_by_sd(arg, sd);

	if (!d)
		return; /* an offer the kernel never saw (lost, see bus_offer) */
	if (d->irq.active)
		ev_del(d->k->loop, &d->irq);
	/* hv_uio_rescind: info.irq = 0; read() fails with EIO from now on and
	 * poll reports an error (uio.c uio_read, uio_poll). */
	if (d->rescind_cb && d->state)
		d->state->irq = 0;
}

/* The host's side has closed the channel: what the guest kernel does with
 * the device now depends on the kernel (K3, K4). */
static void bus_gone(void *arg, struct simdev *sd)
{
	struct uiokern *k = arg;
	struct ukdev *d = uiokern_dev_by_sd(k, sd);

	if (!d)
		return;
	d->sd = NULL;
	if (!d->rescind_cb) {
		/* vmbus_onoffer_rescind without a rescind callback (never
		 * opened): the bus driver unregisters the device itself, on
		 * every kernel. */
		uiokern_dev_unregister(d);
		return;
	}
	d->event++; /* uio_event_notify */
	if (k->o.profile->rescind_unregisters) {
		/* The fix: vmbus_device_unregister from hv_uio_rescind. The ring
		 * is freed (K4), then the files are woken (dev_free). */
		uiokern_dev_unregister(d);
		return;
	}
	/* Before the fix nothing else happens: the device stays registered
	 * and bound, dead (K3). Its readers are woken; their poll reports
	 * the error (kernel side of each file closed, uioproto.h). md9's
	 * close of them is not seen any more: the count goes with them. */
	d->dead = true;
	uiokern_dev_close_files(d);
	d->refcnt = 0;
	log_info("hostsim uio: %s rescinded; uio%d stays registered, dead (kernel %s)", d->name,
	         d->minor, k->o.profile->name);
}

static const struct simbus_guest_ops bus_ops = {
    .offer = bus_offer,
    .rescind = bus_rescind,
    .gone = bus_gone,
};

struct simbus *uiokern_bus(struct uiokern *k, size_t ring_size)
{
	k->bus = simbus_new_guest(k->loop, ring_size, &bus_ops, k);
	return k->bus;
}
