/* Inside the uio transport: what its files share. Only transport_uio.c and
 * the uio_*.c files include this; everyone else sees transport.h.
 *
 *   transport_uio.c  the transport object: creation, ops table, destroy
 *   uio_class.c      the classes md9 asked for: new_id, and their names
 *   uio_discover.c   which devices are ready: uevents, inotify, rescans,
 *                    offers and rescinds (poll_events)
 *   uio_watch.c      the not-ready watchdog and its one warning per device
 *   uio_rescind.c    devices the kernel kept after a rescind (K3)
 *   uio_device.c     opening a channel: its node, map sizes, the three mmaps;
 *                    closing it
 *   uio_signal.c     the doorbells: signalling the host (monitored or not)
 *                    and consuming the host's notification
 *
 * Sources cited in these files:
 *  [K-uio]  Linux drivers/uio/uio_hv_generic.c (maps, open/release,
 *           hv_uio_irqcontrol, hv_uio_rescind);
 *  [K-core] Linux drivers/uio/uio.c (uio_read, uio_write, uio_poll, mmap
 *           offset = map index * PAGE_SIZE);
 *  [K-bus]  Linux drivers/hv/vmbus_drv.c (sysfs attributes, new_id_store),
 *           drivers/hv/channel.c vmbus_setevent, drivers/hv/connection.c
 *           vmbus_connect (send_int_page = int_page + HV_HYP_PAGE_SIZE / 2);
 *  [D]      DPDK drivers/bus/vmbus: linux/vmbus_uio.c vmbus_uio_map_rings,
 *           vmbus_common_uio.c vmbus_uio_map_resource, vmbus_channel.c
 *           vmbus_set_event / rte_vmbus_chan_signal_tx, rte_vmbus_reg.h. */
#ifndef MD9_UIO_PRIVATE_H
#define MD9_UIO_PRIVATE_H

#include "evloop.h"
#include "guid.h"
#include "log.h"
#include "sysfs.h"
#include "transport.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Hyper-V's page (HV_HYP_PAGE_SIZE): the interrupt and monitor pages are one
 * each, whatever the guest's page size [K-uio hv_uio_probe]. */
#define HV_HYP_PAGE 4096u

/* uio_hv_generic map indices [K-uio enum hv_uio_map]. */
enum { MAP_TXRX_RING = 0, MAP_INT_PAGE = 1, MAP_MON_PAGE = 2 };

/* A device offered to the caller, as it was when offered. */
struct uio_offered {
	struct md9_guid instance;
	struct md9_guid class_id;
	uint32_t relid;
};

/* A device of a bound class seen but not ready (uio_watch.c). */
struct uio_waiting {
	struct md9_vmbus_dev dev; /* as last scanned */
	struct timespec since;
	bool warned;
};

/* A device the kernel kept after a rescind (K3, uio_rescind.c): never
 * offered again. */
struct uio_stale {
	struct md9_guid instance;
	uint32_t relid;
};

struct uio_tp {
	struct md9_transport base;
	char *sysfs_root;
	char *dev_root;
	char *proc_root;
	char devices_dir[PATH_MAX];
	char driver_dir[PATH_MAX];
	size_t page;
	/* Change notification (uio_discover.c). On sysfs: kernel uevents (nl)
	 * or, without them, a rescan every UIO_RESCAN_MS (tmr). On a plain tree
	 * (tests): inotify on the tree (ino). Always: inotify on dev_root
	 * (dev_wd) for uio nodes appearing or changing owner/mode (udev
	 * applying the rule, K7). */
	bool sysfs;
	bool periodic;
	int nl;
	int ino;
	int dev_wd;
	/* The caller's loop holds tmr: periodic rescans and the watchdog's next
	 * deadline. When it expires it kicks. */
	struct ev_loop *loop;
	struct ev_timer tmr;
	/* eventfd written by bind_class, open and tmr: the next poll_events
	 * must rescan. */
	int kick;
	/* event_fd: an epoll set of all of the above. */
	int epfd;
	bool scanned;
	struct md9_guid *classes;
	size_t nclasses;
	struct uio_offered *offered;
	size_t noffered;
	struct uio_waiting *waiting;
	size_t nwaiting;
	struct uio_stale *stale;
	size_t nstale;
};

struct uio_chan {
	struct md9_channel ch;
	void *rings;
	size_t rings_len;
	void *int_page;
	size_t int_len;
	void *mon_page;
	size_t mon_len;
	bool monitored;
	uint32_t *int_word;
	uint32_t int_bit;
	uint32_t *mon_word;
	uint32_t mon_bit;
};

/* Without uevents on real sysfs (no netlink here): rescan this often. */
#define UIO_RESCAN_MS 1000

static inline struct uio_tp *uio_tp_of(struct md9_transport *t)
{
	return (struct uio_tp *)((char *)t - offsetof(struct uio_tp, base));
}

/* Make event_fd readable: the next poll_events rescans. Here, below every
 * uio file, because the jobs that find a change (class binding, uevents,
 * rescinds) all call it and transport_uio.c calls them. */
static inline void uio_tp_kick(struct uio_tp *tp)
{
	uint64_t one = 1;

	if (write(tp->kick, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_debug("uio: kick: %s", strerror(errno));
}

static inline struct uio_chan *uio_chan_of(struct md9_channel *ch)
{
	return (struct uio_chan *)((char *)ch - offsetof(struct uio_chan, ch));
}

/* uio_class.c */
int uio_class_bind(struct md9_transport *t, const struct md9_guid *class_id);
/* "SynthRdp control channel", "SynthRdp data channel" or "bound class". */
const char *uio_class_name(const struct md9_guid *class_id);

/* uio_discover.c */
/* Set up the change notification for tp->devices_dir and tp->dev_root;
 * tp->epfd and tp->ino exist. 0 or -1 (logged). */
int uio_discover_init(struct uio_tp *tp);
int uio_discover_poll(struct md9_transport *t, md9_dev_event_cb cb, void *arg);

/* uio_watch.c */
/* Keep the watchdog's list in step with a scan: devs are the devices of the
 * bound classes, why[i] why devs[i] is not ready (NULL: it is). Warns once
 * about each waiting too long. Returns the ms until the next warning is
 * due, -1 when none is. */
long uio_watch_update(struct uio_tp *tp, const struct md9_vmbus_dev *devs, const char *const *why,
                      size_t ndevs);

/* uio_rescind.c */
bool uio_rescind_is_stale(const struct uio_tp *tp, const struct md9_vmbus_dev *dev);
/* Forget stale entries whose device went away or got a new relid. */
void uio_rescind_prune(struct uio_tp *tp, const struct md9_vmbus_dev *devs, size_t ndevs);
/* open() of the node at path failed with ENODEV: record and report it. */
void uio_rescind_kept(struct uio_tp *tp, const struct md9_vmbus_dev *dev, const char *path);

/* uio_device.c */
int uio_device_open(struct md9_transport *t, const struct md9_guid *instance,
                    struct md9_channel **out);
void uio_device_close(struct md9_channel *ch);

/* uio_signal.c */
/* Is relid's bit inside an interrupt page of int_len bytes? */
bool uio_signal_fits(uint32_t relid, uint64_t int_len);
/* Point c's doorbell at the bits of relid and monitor_id in the mapped
 * interrupt and monitor pages. */
void uio_signal_setup(struct uio_chan *c, uint32_t relid, uint32_t monitor_id);
int uio_signal_host(struct md9_channel *ch);
int uio_signal_ack(struct md9_channel *ch);

#endif
