#include "uiokern.h"

#include "fdpass.h"
#include "log.h"
#include "uioproto.h"
#include "uiotree.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

/* Hyper-V's page: the interrupt and monitor pages are one each
 * (hv_uio_probe: HV_HYP_PAGE_SIZE). */
#define HV_HYP_PAGE 4096u
/* The guest->host half of the interrupt page (vmbus_connection.send_int_page
 * = int_page + HV_HYP_PAGE_SIZE / 2, drivers/hv/connection.c). */
#define SEND_INT_OFFSET (HV_HYP_PAGE / 2)
/* struct hv_monitor_page: trigger_state, reserved, then trigger_group[4] of
 * {u32 pending; u32 armed} (include/linux/hyperv.h). */
#define MON_TRIG_OFFSET 8u
#define MON_TRIG_STRIDE 8u
/* uio.c UIO_MAX_DEVICES is 1 << MINORBITS; this emulator needs few. */
#define MAX_MINORS 256
/* How often the "hypervisor" looks at the monitor pages' trigger bits. Hyper-V
 * batches monitored signals the same way (the offer's monitor latency); md9
 * only has to have set the bits. */
#define MONITOR_SCAN_NS 1000000L
/* hv_uio_probe's -ENOTSUPP as the driver core prints it. */
#define ENOTSUPP_KERNEL 524

struct ukdev;

/* One open() of the device node: the socket md9 holds (uioproto.h). */
struct ukfile {
	struct ukdev *dev;
	int sock;
	struct ev_handler h;
	struct ukfile *next;
};

/* One VMBus device as the guest kernel sees it. */
struct ukdev {
	struct uiokern *k;
	struct simdev *sd; /* the host's device; NULL once the host rescinded it */
	struct md9_guid class_id, instance;
	char name[MD9_GUID_STRLEN];
	uint32_t relid;
	bool monitored;
	uint8_t monitor_id;
	int minor;         /* uioN while bound to uio_hv_generic, else -1 */
	bool udev_pending; /* the node still has devtmpfs' root 0600 */
	/* hv_uio_open registered hv_uio_rescind as the channel's rescind
	 * callback (vmbus_set_chn_rescind_callback); it is never cleared. */
	bool rescind_cb;
	bool dead; /* rescinded but left registered (K3, before the fix) */
	int state_fd;
	struct uioemu_state *state;
	int refcnt; /* hv_uio_private_data.refcnt: open files */
	struct ukfile *files;
	int32_t event; /* uio_device.event */
	struct ev_handler irq;
	bool warned;
	struct ukdev *next;
};

/* A connection from uioemu.c before it became a file. */
struct ukconn {
	struct uiokern *k;
	int sock;
	struct ev_handler h;
	struct ukconn *next;
};

struct uiokern {
	struct ev_loop *loop;
	struct uiokern_opts o;
	struct uiotree tree;
	struct simbus *bus;
	char sock_path[108];
	int lsock;
	struct ev_handler lh;
	struct ukconn *conns;
	struct md9_guid classes[16]; /* uio_hv_generic's dynamic ids (new_id) */
	int nclasses;
	struct ukdev *devs;
	uint32_t next_relid;
	uint8_t next_monitor;
	bool minor_used[MAX_MINORS];
	/* The interrupt page (offset 0) and the guest->host monitor page
	 * (offset page): one of each per VM, shared by every device. */
	int pages_fd;
	uint8_t *pages;
	size_t page;
	int scan_fd;
	struct ev_handler scan_h;
	bool scanning;
};

static void file_free(struct ukfile *f);
static void dev_release_last(struct ukdev *d);

/* ---- devices ---- */

static struct ukdev *dev_by_sd(struct uiokern *k, const struct simdev *sd)
{
	for (struct ukdev *d = k->devs; d; d = d->next)
		if (d->sd == sd)
			return d;
	return NULL;
}

static struct ukdev *dev_by_instance(struct uiokern *k, const struct md9_guid *g)
{
	for (struct ukdev *d = k->devs; d; d = d->next)
		if (md9_guid_eq(&d->instance, g))
			return d;
	return NULL;
}

static struct ukdev *dev_by_minor(struct uiokern *k, int minor)
{
	for (struct ukdev *d = k->devs; d; d = d->next)
		if (d->minor == minor)
			return d;
	return NULL;
}

static bool class_bound(const struct uiokern *k, const struct md9_guid *c)
{
	for (int i = 0; i < k->nclasses; i++)
		if (md9_guid_eq(&k->classes[i], c))
			return true;
	return false;
}

static volatile uint32_t *rx_mask(struct ukdev *d)
{
	return &d->sd->chan->rx.ctl->interrupt_mask;
}

/* uio_event_notify: the count goes up, every reader is woken. A file whose
 * socket is full has a wake-up queued already (it reads every pending
 * message at once, uioemu.c). */
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
static void dev_irq(struct ev_handler *h, uint32_t events)
{
	struct ukdev *d = h->arg;
	uint64_t n;

	if (read(h->fd, &n, sizeof(n)) < 0)
		return;
	/* hv_uio_channel_cb, before the CVE-2025-40048 fix: mask the RX ring,
	 * then wake user space, which must unmask it (K5). */
	if (d->k->o.profile->kernel_masks)
		__atomic_store_n(rx_mask(d), 1, __ATOMIC_SEQ_CST);
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

static void dev_udev(struct ukdev *d)
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
static void dev_probe(struct ukdev *d)
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
		dev_udev(d);
}

/* Wake every reader for good: the kernel's end of each open file goes,
 * with md9's PIN unread, so md9's fd reports EPOLLERR|EPOLLHUP|EPOLLIN
 * (uioproto.h). */
static void close_files(struct ukdev *d)
{
	while (d->files) {
		struct ukfile *f = d->files;
		d->files = f->next;
		file_free(f);
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
		 * state page (uioemu.c poisons the mapping, uioproto.h). */
		d->state->ring_freed = 1;
		log_info("hostsim uio: ring pages of uio%d freed (K4)%s", d->minor,
		         d->refcnt ? " while an open file maps them" : "");
	}
	/* The readers were woken before (hv_uio_rescind's uio_event_notify
	 * comes before the unregistration); they find this state. */
	close_files(d);
	uiotree_unbind(&k->tree, d->name, d->minor);
	k->minor_used[d->minor] = false;
	log_info("hostsim uio: uio%d removed", d->minor);
	d->minor = -1;
}

static void dev_free(struct ukdev *d)
{
	struct uiokern *k = d->k;

	close_files(d);
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
static void dev_unregister(struct ukdev *d)
{
	dev_unbind(d);
	uiotree_remove_device(&d->k->tree, d->name);
	log_info("hostsim uio: vmbus device %s unregistered", d->name);
	dev_free(d);
}

/* ---- the host's side (simbus guest ops) ---- */

static void bus_offer(void *arg, struct simdev *sd)
{
	struct uiokern *k = arg;
	struct ukdev *d, *old = dev_by_instance(k, &sd->instance);
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
	if (class_bound(k, &d->class_id))
		dev_probe(d);
}

/* The host rescinds: from now on there is no channel behind the device
 * (the host's side closes it right after this). */
static void bus_rescind(void *arg, struct simdev *sd)
{
	struct ukdev *d = dev_by_sd(arg, sd);

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
	struct ukdev *d = dev_by_sd(k, sd);

	if (!d)
		return;
	d->sd = NULL;
	if (!d->rescind_cb) {
		/* vmbus_onoffer_rescind without a rescind callback (never
		 * opened): the bus driver unregisters the device itself, on
		 * every kernel. */
		dev_unregister(d);
		return;
	}
	d->event++; /* uio_event_notify */
	if (k->o.profile->rescind_unregisters) {
		/* The fix: vmbus_device_unregister from hv_uio_rescind. The ring
		 * is freed (K4), then the files are woken (dev_free). */
		dev_unregister(d);
		return;
	}
	/* Before the fix nothing else happens: the device stays registered
	 * and bound, dead (K3). Its readers are woken; their poll reports
	 * the error (kernel side of each file closed, uioproto.h). md9's
	 * close of them is not seen any more: the count goes with them. */
	d->dead = true;
	close_files(d);
	d->refcnt = 0;
	log_info("hostsim uio: %s rescinded; uio%d stays registered, dead (kernel %s)", d->name,
	         d->minor, k->o.profile->name);
}

static const struct simbus_guest_ops bus_ops = {
    .offer = bus_offer,
    .rescind = bus_rescind,
    .gone = bus_gone,
};

/* ---- monitored channels (K6) ---- */

static void scan_arm(struct uiokern *k, bool on)
{
	struct itimerspec its = {0};

	if (on == k->scanning)
		return;
	k->scanning = on;
	if (on) {
		its.it_value.tv_nsec = MONITOR_SCAN_NS;
		its.it_interval.tv_nsec = MONITOR_SCAN_NS;
	}
	timerfd_settime(k->scan_fd, 0, &its, NULL);
}

static bool bit_test_clear(uint8_t *base, size_t off, uint32_t bit)
{
	uint32_t *w = (uint32_t *)(base + off);

	return __atomic_fetch_and(w, ~bit, __ATOMIC_SEQ_CST) & bit;
}

/* The hypervisor sees a monitored channel's signal by its trigger bit in
 * the guest->host monitor page; the host then finds the channel by its
 * relid bit in the send half of the interrupt page (vmbus_setevent sets
 * both for a monitored channel; the kernel's write() path does not, K6).
 * A host that ignores the interrupt page (VMBus WIN10_V5+) would accept a
 * trigger bit alone: this one wants both, so md9 must set both. */
static void on_scan(struct ev_handler *h, uint32_t events)
{
	struct uiokern *k = h->arg;
	uint8_t *mon = k->pages + k->page;
	uint64_t n;
	bool any = false;

	if (read(k->scan_fd, &n, sizeof(n)) < 0)
		return;
	for (struct ukdev *d = k->devs; d; d = d->next) {
		if (!d->monitored || !d->sd || !d->sd->chan || d->refcnt == 0)
			continue;
		any = true;
		if (!bit_test_clear(mon, MON_TRIG_OFFSET + MON_TRIG_STRIDE * (d->monitor_id / 32u),
		                    1u << (d->monitor_id % 32u)))
			continue;
		if (!bit_test_clear(k->pages, SEND_INT_OFFSET + 4u * (d->relid / 32u),
		                    1u << (d->relid % 32u))) {
			if (!d->warned)
				log_warn(
				    "hostsim uio: %s: monitor trigger without its relid bit in "
				    "the interrupt page: signal ignored",
				    d->name);
			d->warned = true;
			continue;
		}
		n = 1;
		if (write(d->sd->chan->from_guest, &n, sizeof(n)) < 0)
			log_warn("hostsim uio: doorbell: %s", strerror(errno));
	}
	if (!any)
		scan_arm(k, false);
}

/* ---- files ---- */

static void file_free(struct ukfile *f)
{
	ev_del(f->dev->k->loop, &f->h);
	close(f->sock);
	free(f);
}

/* The last reference went: hv_uio_release closes the channel
 * (vmbus_disconnect_ring), the host sees it closed. */
static void dev_release_last(struct ukdev *d)
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

/* md9's side of an open file went away (close and munmap, or exit). */
static void file_hup(struct ev_handler *h, uint32_t events)
{
	struct ukfile *f = h->arg;
	struct ukdev *d = f->dev;

	for (struct ukfile **p = &d->files; *p; p = &(*p)->next) {
		if (*p == f) {
			*p = f->next;
			break;
		}
	}
	file_free(f);
	if (--d->refcnt == 0)
		dev_release_last(d);
}

/* uio_open + hv_uio_open. */
static int dev_open(struct uiokern *k, uint32_t minor, struct uioemu_open_reply *r,
                    int fds[UIOEMU_NFDS])
{
	struct ukdev *d = minor < MAX_MINORS ? dev_by_minor(k, (int)minor) : NULL;
	const struct uio_profile *p = k->o.profile;
	struct hostchan *hc;
	int err;

	if (!d)
		return -ENODEV; /* uio_open: no device with this minor */
	if (d->dead)
		return -ENODEV; /* K3: reopening a rescinded channel */
	if (!d->sd)
		return -ENODEV;
	if (d->refcnt == 0) {
		/* First open: the channel is opened, the host sees it. */
		err = simbus_guest_open(d->sd);
		if (err)
			return err;
		hc = d->sd->chan;
		ev_set(k->loop, &d->irq, hc->to_guest, EPOLLIN, dev_irq, d);
		d->rescind_cb = true;
		/* hv_uio_open before the CVE-2025-40048 fix (K5). */
		if (p->kernel_masks)
			__atomic_store_n(rx_mask(d), 1, __ATOMIC_SEQ_CST);
		if (d->monitored)
			scan_arm(k, true);
	}
	hc = d->sd->chan;
	d->refcnt++;
	r->flags = (p->kernel_masks ? UIOEMU_F_MASK_ON_WRITE : 0) |
	           (p->irqcontrol_signals && !d->monitored ? UIOEMU_F_SIGNAL_ON_WRITE : 0);
	r->map_size[0] = 2 * (uint64_t)simbus_ring_size(k->bus);
	r->map_size[1] = r->map_size[2] = HV_HYP_PAGE;
	r->pages_off[0] = 0;
	r->pages_off[1] = 0;
	r->pages_off[2] = k->page;
	r->rx_mask_off = (uint64_t)((uint8_t *)&hc->rx.ctl->interrupt_mask - (uint8_t *)hc->map);
	fds[UIOEMU_FD_RING] = hc->memfd;
	fds[UIOEMU_FD_PAGES] = k->pages_fd;
	fds[UIOEMU_FD_DOORBELL] = hc->from_guest;
	fds[UIOEMU_FD_STATE] = d->state_fd;
	return 0;
}

static void conn_free(struct ukconn *c, bool close_sock)
{
	struct uiokern *k = c->k;

	ev_del(k->loop, &c->h);
	if (close_sock)
		close(c->sock);
	for (struct ukconn **p = &k->conns; *p; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			break;
		}
	}
	free(c);
}

/* guid_parse: exactly "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", any case;
 * what follows the 36 characters is not looked at. */
static int parse_new_id(const char *buf, size_t len, struct md9_guid *out)
{
	char s[37];

	if (len < 36)
		return -EINVAL;
	for (int i = 0; i < 36; i++) {
		char ch = buf[i];
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		bool hex = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
		           (ch >= 'A' && ch <= 'F');

		if (dash ? ch != '-' : !hex)
			return -EINVAL;
		s[i] = ch;
	}
	s[36] = '\0';
	return md9_guid_parse(s, out) == 0 ? 0 : -EINVAL;
}

/* new_id_store: parse, -EEXIST if present, add, driver_attach (probe every
 * device of the class now, synchronously). A failed probe is not the
 * writer's error. */
static int32_t new_id(struct uiokern *k, const struct uioemu_req *q)
{
	struct md9_guid g;
	size_t len = q->len < sizeof(q->data) ? q->len : sizeof(q->data);
	char text[MD9_GUID_STRLEN];

	if (parse_new_id(q->data, len, &g) < 0)
		return -EINVAL;
	md9_guid_format(&g, text);
	if (class_bound(k, &g)) {
		log_info("hostsim uio: new_id %s: already there (EEXIST)", text);
		return -EEXIST;
	}
	if (k->nclasses == (int)(sizeof(k->classes) / sizeof(k->classes[0])))
		return -ENOMEM;
	k->classes[k->nclasses++] = g;
	log_info("hostsim uio: new_id %s: class added to uio_hv_generic", text);
	for (struct ukdev *d = k->devs; d; d = d->next)
		if (md9_guid_eq(&d->class_id, &g))
			dev_probe(d);
	return (int32_t)q->len;
}

static void conn_readable(struct ev_handler *h, uint32_t events)
{
	struct ukconn *c = h->arg;
	struct uiokern *k = c->k;
	struct uioemu_req q;
	ssize_t n = recv(c->sock, &q, sizeof(q), MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n != (ssize_t)sizeof(q)) {
		if (n > 0)
			log_warn("hostsim uio: malformed request (%zd bytes)", n);
		conn_free(c, true);
		return;
	}
	switch (q.type) {
	case UIOEMU_HELLO: {
		struct uioemu_hello_reply r = {.version = UIOEMU_PROTO_VERSION};

		if (q.version != UIOEMU_PROTO_VERSION)
			r.status = -EPROTO;
		else if (strlen(k->tree.sys) >= sizeof(r.sys) ||
		         strlen(k->tree.dev) >= sizeof(r.dev))
			r.status = -ENAMETOOLONG;
		else {
			strcpy(r.sys, k->tree.sys);
			strcpy(r.dev, k->tree.dev);
		}
		if (send(c->sock, &r, sizeof(r), MSG_NOSIGNAL) < 0)
			conn_free(c, true);
		return;
	}
	case UIOEMU_NEW_ID: {
		struct uioemu_status r = {.status = new_id(k, &q)};

		if (send(c->sock, &r, sizeof(r), MSG_NOSIGNAL) < 0)
			conn_free(c, true);
		return;
	}
	case UIOEMU_OPEN: {
		struct uioemu_open_reply r = {0};
		int fds[UIOEMU_NFDS];
		struct ukfile *f;
		struct ukdev *d;

		r.status = dev_open(k, q.minor, &r, fds);
		if (r.status < 0) {
			if (fdpass_send(c->sock, &r, sizeof(r), NULL, 0) < 0)
				conn_free(c, true);
			return;
		}
		d = dev_by_minor(k, (int)q.minor);
		f = calloc(1, sizeof(*f));
		if (!f || fdpass_send(c->sock, &r, sizeof(r), fds, UIOEMU_NFDS) < 0) {
			free(f);
			conn_free(c, true);
			if (--d->refcnt == 0)
				dev_release_last(d);
			return;
		}
		/* The connection is the open file now: the kernel only writes
		 * to it and notices when md9's side goes (uioproto.h). */
		f->dev = d;
		f->sock = c->sock;
		f->next = d->files;
		d->files = f;
		conn_free(c, false);
		ev_set(k->loop, &f->h, f->sock, EPOLLRDHUP, file_hup, f);
		return;
	}
	default:
		log_warn("hostsim uio: unknown request %u", q.type);
		conn_free(c, true);
	}
}

static void listener_readable(struct ev_handler *h, uint32_t events)
{
	struct uiokern *k = h->arg;
	struct ukconn *c;
	int s = accept4(k->lsock, NULL, NULL, SOCK_CLOEXEC);

	if (s < 0)
		return;
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(s);
		return;
	}
	c->k = k;
	c->sock = s;
	c->next = k->conns;
	k->conns = c;
	ev_set(k->loop, &c->h, s, EPOLLIN, conn_readable, c);
}

/* ---- setup ---- */

struct uiokern *uiokern_new(struct ev_loop *loop, const struct uiokern_opts *o)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct uiokern *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	k->loop = loop;
	k->o = *o;
	k->lsock = k->pages_fd = k->scan_fd = -1;
	k->pages = MAP_FAILED;
	k->page = (size_t)sysconf(_SC_PAGESIZE);
	/* Relids and monitor ids as a host hands them out; starting past 32
	 * puts the relid bits in the interrupt page's second word. */
	k->next_relid = 30;
	k->next_monitor = 1;
	if (uiotree_init(&k->tree, o->root, o->profile->osrelease) < 0)
		goto fail;
	if ((size_t)snprintf(k->sock_path, sizeof(k->sock_path), "%s/kernel.sock", o->root) >=
	    sizeof(k->sock_path)) {
		log_err("hostsim uio: %s/kernel.sock is too long for a socket path", o->root);
		goto fail;
	}
	k->pages_fd = memfd_create("md9-uio-pages", MFD_CLOEXEC);
	if (k->pages_fd < 0 || ftruncate(k->pages_fd, (off_t)(2 * k->page)) < 0 ||
	    (k->pages = mmap(NULL, 2 * k->page, PROT_READ | PROT_WRITE, MAP_SHARED, k->pages_fd,
	                     0)) == MAP_FAILED) {
		log_err("hostsim uio: interrupt/monitor pages: %s", strerror(errno));
		goto fail;
	}
	k->scan_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	strcpy(sa.sun_path, k->sock_path);
	k->lsock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	unlink(k->sock_path);
	if (k->scan_fd < 0 || k->lsock < 0 ||
	    bind(k->lsock, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(k->lsock, 16) < 0) {
		log_err("hostsim uio: %s: %s", k->sock_path, strerror(errno));
		goto fail;
	}
	/* md9 connects after dropping its privileges. */
	chmod(k->sock_path, 0666);
	ev_set(loop, &k->lh, k->lsock, EPOLLIN, listener_readable, k);
	ev_set(loop, &k->scan_h, k->scan_fd, EPOLLIN, on_scan, k);
	log_info("hostsim uio: emulated kernel %s (%s) under %s", o->profile->name,
	         o->profile->summary, o->root);
	return k;
fail:
	uiokern_free(k);
	return NULL;
}

struct simbus *uiokern_bus(struct uiokern *k, size_t ring_size)
{
	k->bus = simbus_new_guest(k->loop, ring_size, &bus_ops, k);
	return k->bus;
}

void uiokern_free(struct uiokern *k)
{
	if (!k)
		return;
	while (k->devs)
		dev_unregister(k->devs);
	while (k->conns)
		conn_free(k->conns, true);
	if (k->lsock >= 0) {
		ev_del(k->loop, &k->lh);
		close(k->lsock);
		unlink(k->sock_path);
	}
	if (k->scan_fd >= 0) {
		ev_del(k->loop, &k->scan_h);
		close(k->scan_fd);
	}
	if (k->pages != MAP_FAILED)
		munmap(k->pages, 2 * k->page);
	if (k->pages_fd >= 0)
		close(k->pages_fd);
	free(k);
}

/* ---- commands ---- */

static void rescind_unread(struct hostctl *ctl, struct simdev *sd)
{
	static const uint8_t data[] = "md9 must not read this: the channel is rescinded";
	struct hostchan *hc = sd->chan;
	struct md9_guid inst = sd->instance;

	/* A packet the guest is never told about (no interrupt), then the
	 * rescind: the guest wakes only for the rescind, and must not read
	 * the ring any more (K4). */
	if (hc && pipe_tx_write(&hc->out, data, sizeof(data)) == sizeof(data))
		(void)pipe_tx_commit(&hc->out);
	hostctl_rescind_data(ctl, &inst);
}

int uiokern_command(struct uiokern *k, struct hostctl *ctl, const char *line)
{
	if (strcmp(line, "udev") == 0) {
		for (struct ukdev *d = k->devs; d; d = d->next)
			dev_udev(d);
		return 1;
	}
	if (strncmp(line, "rescind-unread ", 15) == 0) {
		struct md9_guid g;
		struct simdev *sd;
		const char *arg = line + 15;

		if (strcmp(arg, "last") == 0) {
			sd = hostctl_data_dev(ctl, NULL);
		} else if (md9_guid_parse(arg, &g) == 0) {
			sd = hostctl_data_dev(ctl, &g);
		} else {
			log_warn("hostsim uio: rescind-unread GUID|last");
			return -1;
		}
		if (!sd) {
			log_warn("hostsim uio: rescind-unread: no such data channel");
			return -1;
		}
		rescind_unread(ctl, sd);
		return 1;
	}
	if (strcmp(line, "uio-status") == 0) {
		for (struct ukdev *d = k->devs; d; d = d->next)
			printf(
			    "uio dev %s minor=%d relid=%u bound=%d dead=%d open=%d monitored=%d\n",
			    d->name, d->minor, d->relid, d->minor >= 0, d->dead, d->refcnt,
			    d->monitored);
		printf("uio end\n");
		fflush(stdout);
		return 1;
	}
	return 0;
}
