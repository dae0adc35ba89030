/* The emulated kernel's VMBus devices: looked up, probed and bound by
 * uio_hv_generic, interrupted, unbound and unregistered (uiokern.h). */
#include "uiokern_state.h"

#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

struct ukdev *uiokern_dev_by_sd(struct uiokern *k, const struct simdev *sd)
{
	for (struct ukdev *d = k->devs; d; d = d->next)
		if (d->sd == sd)
			return d;
	return NULL;
}

struct ukdev *uiokern_dev_by_instance(struct uiokern *k, const struct md9_guid *g)
{
	for (struct ukdev *d = k->devs; d; d = d->next)
		if (md9_guid_eq(&d->instance, g))
			return d;
	return NULL;
}

struct ukdev *uiokern_dev_by_minor(struct uiokern *k, int minor)
{
	for (struct ukdev *d = k->devs; d; d = d->next)
		if (d->minor == minor)
			return d;
	return NULL;
}

bool uiokern_dev_class_bound(const struct uiokern *k, const struct md9_guid *c)
{
	for (int i = 0; i < k->nclasses; i++)
		if (md9_guid_eq(&k->classes[i], c))
			return true;
	return false;
}

volatile uint32_t *uiokern_dev_rx_mask(struct ukdev *d)
{
	return &d->sd->chan->rx.ctl->interrupt_mask;
}

/* uio_event_notify: the count goes up, every reader is woken. A file whose
 * socket is full has a wake-up queued already (it reads every pending
 * message at once, tests/uio/uioemu_rw.c). */
static void dev_notify(struct ukdev *d)
{
	struct uioemu_irq m = {.type = UIOEMU_IRQ, .event = ++d->event};

	for (struct ukfile *f = d->files; f; f = f->next)
		if (send(f->sock, &m, sizeof(m), MSG_DONTWAIT | MSG_NOSIGNAL) < 0 &&
		    errno != EAGAIN)
			log_debug("hostsim uio: interrupt to a reader of uio%d: %s", d->minor,
			          strerror(errno));
}

/* The host rang the guest's doorbell (its interrupt for this channel). */
void uiokern_dev_irq(struct ev_handler *h, uint32_t events)
{
	struct ukdev *d = h->arg;
	uint64_t n;

	if (read(h->fd, &n, sizeof(n)) < 0)
		return;
	/* hv_uio_channel_cb, before the CVE-2025-40048 fix: mask the RX ring,
	 * then wake user space, which must unmask it (K5). */
	if (d->k->o.profile->kernel_masks)
		__atomic_store_n(uiokern_dev_rx_mask(d), 1, __ATOMIC_SEQ_CST);
	dev_notify(d);
}

static int alloc_minor(struct uiokern *k)
{
	/* uio_get_minor: idr_alloc, the lowest free number. */
	for (int i = 0; i < MAX_MINORS; i++) {
		if (!k->minor_used[i]) {
			k->minor_used[i] = true;
			return i;
		}
	}
	return -ENOSPC;
}

void uiokern_dev_udev(struct ukdev *d)
{
	int err;

	if (!d->udev_pending || d->minor < 0)
		return;
	d->udev_pending = false;
	err = uiotree_udev(&d->k->tree, d->minor, d->k->o.udev_gid, d->k->o.udev_mode);
	if (err)
		log_warn("hostsim uio: udev on uio%d: %s", d->minor, strerror(-err));
	else
		log_info("hostsim uio: udev set group %u mode %04o on uio%d",
		         (unsigned)d->k->o.udev_gid, (unsigned)d->k->o.udev_mode, d->minor);
}

/* hv_uio_probe for a device whose class is bound. */
void uiokern_dev_probe(struct ukdev *d)
{
	struct uiokern *k = d->k;
	const struct uio_profile *p = k->o.profile;
	uint64_t sizes[3], addrs[3];
	int minor, err;

	if (d->minor >= 0 || d->dead)
		return;
	if (p->probe_needs_monitor && !d->monitored) {
		/* Before 6.10: "Communicating with host has to be via shared
		 * memory not hypercall" - dev_err, -ENOTSUPP (K2); the driver
		 * core reports the failed probe (drivers/base/dd.c). */
		uiotree_kmsg(&k->tree, 3, d->name,
		             "uio_hv_generic %s: vmbus channel requires hypercall", d->name);
		uiotree_kmsg(&k->tree, 4, d->name,
		             "uio_hv_generic: probe of %s failed with error -%d", d->name,
		             ENOTSUPP_KERNEL);
		return;
	}
	minor = alloc_minor(k);
	if (minor < 0) {
		log_err("hostsim uio: no free uio minor");
		return;
	}
	d->state_fd = memfd_create("md9-uio-state", MFD_CLOEXEC);
	if (d->state_fd < 0 || ftruncate(d->state_fd, (off_t)k->page) < 0 ||
	    (d->state = mmap(NULL, k->page, PROT_READ | PROT_WRITE, MAP_SHARED, d->state_fd, 0)) ==
	        MAP_FAILED) {
		log_err("hostsim uio: device state: %s", strerror(errno));
		d->state = NULL;
		k->minor_used[minor] = false;
		return;
	}
	/* info.irq = UIO_IRQ_CUSTOM (non-zero); idev->info set. */
	d->state->irq = 1;
	d->state->info = 1;
	/* Map 0: the TX and RX rings (vmbus_alloc_ring(ring_size, ring_size));
	 * maps 1, 2: one Hyper-V page each. addr: a physical address for the
	 * ring (UIO_MEM_IOVA), kernel virtual ones for the pages
	 * (UIO_MEM_LOGICAL), as uio shows them. */
	sizes[0] = 2 * (uint64_t)simbus_ring_size(k->bus);
	sizes[1] = sizes[2] = HV_HYP_PAGE;
	addrs[0] = 0x100000000ull + (uint64_t)minor * 0x1000000ull;
	addrs[1] = 0xffff888100a00000ull;
	addrs[2] = 0xffff888100a02000ull;
	err = uiotree_bind(&k->tree, d->name, minor, sizes, addrs);
	if (err) {
		log_err("hostsim uio: binding %s: %s", d->name, strerror(-err));
		k->minor_used[minor] = false;
		return;
	}
	d->minor = minor;
	d->udev_pending = true;
	log_info("hostsim uio: %s bound to uio_hv_generic as uio%d (relid %u, %s)", d->name, minor,
	         d->relid, d->monitored ? "monitor id" : "no monitor");
	if (!k->o.udev_manual)
		uiokern_dev_udev(d);
}

void uiokern_dev_file_free(struct ukfile *f)
{
	ev_del(f->dev->k->loop, &f->h);
	close(f->sock);
	free(f);
}

/* Wake every reader for good: the kernel's end of each open file goes,
 * with md9's PIN unread, so md9's fd reports EPOLLERR|EPOLLHUP|EPOLLIN
 * (uioproto.h). */
void uiokern_dev_close_files(struct ukdev *d)
{
	while (d->files) {
		struct ukfile *f = d->files;
		d->files = f->next;
		uiokern_dev_file_free(f);
	}
}

/* The last reference went: hv_uio_release closes the channel
 * (vmbus_disconnect_ring), the host sees it closed. */
void uiokern_dev_release_last(struct ukdev *d)
{
	char g[MD9_GUID_STRLEN];

	if (d->irq.active)
		ev_del(d->k->loop, &d->irq);
	if (d->sd && d->sd->chan) {
		log_info("hostsim uio: uio%d released: closing channel %s", d->minor,
		         md9_guid_format(&d->instance, g));
		simbus_guest_close(d->sd);
	}
}

/* hv_uio_remove (through vmbus_device_unregister): the uio device goes
 * (idev->info = NULL), then vmbus_free_ring frees the ring pages, whatever
 * user space still maps (K4). The emulator changes that state before it
 * wakes the readers, so what md9 finds once woken does not depend on how
 * fast it is. */
static void dev_unbind(struct ukdev *d)
{
	struct uiokern *k = d->k;

	if (d->minor < 0)
		return;
	d->state->info = 0;
	if (k->o.profile->rescind_frees_ring) {
		/* The pages go now; whoever still maps them is told through the
		 * state page (uioemu_table.c poisons the mapping, uioproto.h). */
		d->state->ring_freed = 1;
		log_info("hostsim uio: ring pages of uio%d freed (K4)%s", d->minor,
		         d->refcnt ? " while an open file maps them" : "");
	}
	/* The readers were woken before (hv_uio_rescind's uio_event_notify
	 * comes before the unregistration); they find this state. */
	uiokern_dev_close_files(d);
	uiotree_unbind(&k->tree, d->name, d->minor);
	k->minor_used[d->minor] = false;
	log_info("hostsim uio: uio%d removed", d->minor);
	d->minor = -1;
}

static void dev_free(struct ukdev *d)
{
	struct uiokern *k = d->k;

	uiokern_dev_close_files(d);
	if (d->irq.active)
		ev_del(k->loop, &d->irq);
	if (d->state)
		munmap(d->state, k->page);
	if (d->state_fd >= 0)
		close(d->state_fd);
	for (struct ukdev **p = &k->devs; *p; p = &(*p)->next) {
		if (*p == d) {
			*p = d->next;
			break;
		}
	}
	free(d);
}

/* vmbus_device_unregister: unbind, then the directory goes. */
void uiokern_dev_unregister(struct ukdev *d)
{
	dev_unbind(d);
	uiotree_remove_device(&d->k->tree, d->name);
	log_info("hostsim uio: vmbus device %s unregistered", d->name);
	dev_free(d);
}
