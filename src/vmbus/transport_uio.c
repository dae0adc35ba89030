/* Real Hyper-V: VMBus channels through the Linux uio_hv_generic driver
 * (protocol.md §6, docs/uio.md). Sources:
 *  [K-uio]  Linux drivers/uio/uio_hv_generic.c (maps, open/release,
 *           hv_uio_irqcontrol, hv_uio_rescind);
 *  [K-core] Linux drivers/uio/uio.c (uio_read, uio_write, uio_poll, mmap
 *           offset = map index * PAGE_SIZE);
 *  [K-bus]  Linux drivers/hv/vmbus_drv.c (sysfs attributes, new_id_store),
 *           drivers/hv/channel.c vmbus_setevent, drivers/hv/connection.c
 *           vmbus_connect (send_int_page = int_page + HV_HYP_PAGE_SIZE / 2);
 *  [D]      DPDK drivers/bus/vmbus: linux/vmbus_uio.c vmbus_uio_map_rings,
 *           vmbus_common_uio.c vmbus_uio_map_resource, vmbus_channel.c
 *           vmbus_set_event / rte_vmbus_chan_signal_tx, rte_vmbus_reg.h.
 *
 * Device model: a device is "offered" (MD9_DEV_OFFER) once it is ready to
 * open: its class is bound, it is bound to uio (uio/uioN exists with
 * maps/map0/size) and <dev_root>/uioN exists. It is rescinded when it stops
 * being so, or when its relid changes between two scans (the host rescinded
 * and re-offered it). open() says -ENOENT when no device has the instance and
 * -EAGAIN when it exists but is not ready yet (EACCES on the node included:
 * udev has not applied the rule yet, kernel-facts K7); an OFFER follows when
 * it is, or a change of the node's attributes wakes event_fd.
 *
 * Real kernels this file copes with (docs/uio.md, "Kernel generations"):
 *  - K2: before 6.10, uio_hv_generic refuses channels without a monitor
 *    page at probe; the device stays unbound. A device of a bound class that
 *    is not ready UIO_WAIT_MS after it was first seen gets one warning line
 *    saying what is wrong and the fix (the watchdog below).
 *  - K3: before the 2024-08 rescind fix the kernel keeps a rescinded device
 *    and reopening it fails with ENODEV. open() then reports it once, marks
 *    that (instance, relid) stale and reports it rescinded; a new relid or a
 *    new directory for the instance is a new offer.
 *  - K4: channel memory may be freed at rescind: ack and signal report -EIO
 *    for every error a rescinded or unregistered uio device gives. */
#include "transport.h"

#include "log.h"
#include "path.h"
#include "ring.h"
#include "sysfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/netlink.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

/* Hyper-V's page (HV_HYP_PAGE_SIZE): the interrupt and monitor pages are one
 * each, whatever the guest's page size [K-uio hv_uio_probe]. */
#define HV_HYP_PAGE 4096u
/* The guest->host half of the interrupt page [K-bus vmbus_connect;
 * D vmbus_uio_map_resource: int_page = map1 + HYPERV_PAGE_SIZE / 2]. */
#define HV_SEND_INT_OFFSET (HV_HYP_PAGE / 2)
/* struct hv_monitor_page: u32 trigger_state, u32 reserved, then 4 trigger
 * groups of {u32 pending; u32 armed} [include/linux/hyperv.h;
 * D rte_vmbus_reg.h struct vmbus_mon_page]. */
#define HV_MON_TRIG_OFFSET 8u
#define HV_MON_TRIG_STRIDE 8u
#define HV_MON_TRIG_LEN    32u
/* Upper bound accepted for the one-page maps 1 and 2. */
#define SMALL_MAP_MAX (1u << 20)

/* uio_hv_generic map indices [K-uio enum hv_uio_map]. */
enum { MAP_TXRX_RING = 0, MAP_INT_PAGE = 1, MAP_MON_PAGE = 2 };

/* statfs f_type of sysfs (include/uapi/linux/magic.h SYSFS_MAGIC). */
#define SYSFS_MAGIC_NUMBER 0x62656572
/* Netlink multicast group of kernel uevents (lib/kobject_uevent.c). */
#define UEVENT_GROUP_KERNEL 1u
/* Events drained per poll_events call; more stay queued and keep the fd
 * readable (the caller's loop is level-triggered). */
#define DRAIN_MAX 256
/* A device of a bound class not ready this long after it was first seen is
 * reported once (K2 and friends): "never wait silently". */
#define UIO_WAIT_MS 3000
/* Without uevents on real sysfs (no netlink here): rescan this often. */
#define RESCAN_MS 1000

#define INOTIFY_DIR_MASK                                                                           \
	(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF |    \
	 IN_ONLYDIR)

struct offered {
	struct md9_guid instance;
	struct md9_guid class_id;
	uint32_t relid;
};

/* A device of a bound class seen but not ready (watchdog). */
struct waiting {
	struct md9_vmbus_dev dev; /* as last scanned */
	struct timespec since;
	bool warned;
};

/* A device the kernel kept after a rescind (K3): never offered again. */
struct stale {
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
	/* Change notification. On sysfs: kernel uevents (nl) or, without them,
	 * a rescan every RESCAN_MS (tmr). On a plain tree (tests): inotify on
	 * the tree (ino). Always: inotify on dev_root (dev_wd) for uio nodes
	 * appearing or changing owner/mode (udev applying the rule, K7). */
	bool sysfs;
	bool periodic;
	int nl;
	int ino;
	int dev_wd;
	/* timerfd: periodic rescans and the watchdog's next deadline. */
	int tmr;
	/* eventfd written by bind_class and open: the next poll_events must
	 * rescan. */
	int kick;
	/* event_fd: an epoll set of all of the above. */
	int epfd;
	bool scanned;
	struct md9_guid *classes;
	size_t nclasses;
	struct offered *offered;
	size_t noffered;
	struct waiting *waiting;
	size_t nwaiting;
	struct stale *stale;
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

static struct uio_tp *tp_of(struct md9_transport *t)
{
	return container_of(t, struct uio_tp, base);
}

static void kick(struct uio_tp *tp);

/* ---- classes ---- */

static bool class_known(const struct uio_tp *tp, const struct md9_guid *class_id)
{
	for (size_t i = 0; i < tp->nclasses; i++)
		if (md9_guid_eq(&tp->classes[i], class_id))
			return true;
	return false;
}

static int uio_bind_class(struct md9_transport *t, const struct md9_guid *class_id)
{
	struct uio_tp *tp = tp_of(t);
	char text[MD9_GUID_STRLEN];
	int err = md9_sysfs_new_id(tp->driver_dir, class_id);

	md9_guid_format(class_id, text);
	if (err == -ENOENT) {
		log_err("uio_hv_generic not loaded: modprobe uio_hv_generic (%s missing)",
			tp->driver_dir);
		return -ENOENT;
	}
	if (err == 1) {
		log_debug("class %s already bound to uio_hv_generic", text);
		err = 0;
	}
	/* Not root (the unit runs md9 as User=md9): only root may write
	 * new_id; `md9 bind-classes` did it as root before (ExecStartPre=+,
	 * the udev rule). */
	if ((err == -EACCES || err == -EPERM || err == -EROFS) && geteuid() != 0) {
		log_debug("class %s: new_id is root's; relying on md9 bind-classes", text);
		err = 0;
	}
	if (err) {
		log_err("binding class %s to uio_hv_generic (%s/new_id): %s%s", text,
			tp->driver_dir, strerror(-err),
			err == -EACCES || err == -EPERM ? " (needs root)" : "");
		return err;
	}
	if (!class_known(tp, class_id)) {
		struct md9_guid *nc = realloc(tp->classes, (tp->nclasses + 1) * sizeof(*nc));

		if (!nc)
			return -ENOMEM;
		tp->classes = nc;
		tp->classes[tp->nclasses++] = *class_id;
		log_info("class %s bound to uio_hv_generic", text);
	}
	/* Devices of this class may be present already: make event_fd readable
	 * so the caller's next poll_events rescans. */
	kick(tp);
	return 0;
}

/* ---- events ---- */

static int uio_event_fd(struct md9_transport *t)
{
	return tp_of(t)->epfd;
}

static void kick(struct uio_tp *tp)
{
	uint64_t one = 1;

	if (write(tp->kick, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_debug("uio: kick: %s", strerror(errno));
}

static struct timespec now_mono(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t;
}

static long ms_since(const struct timespec *then, const struct timespec *now)
{
	return (long)(now->tv_sec - then->tv_sec) * 1000 + (now->tv_nsec - then->tv_nsec) / 1000000;
}

/* A kernel uevent is "action@devpath\0KEY=VALUE\0...". VMBus devices come
 * and go with SUBSYSTEM=vmbus (add, bind, unbind, remove) and their uio
 * nodes with SUBSYSTEM=uio. */
static bool uevent_relevant(const char *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		const char *s = buf + off;
		const char *end = memchr(s, '\0', len - off);
		size_t n = end ? (size_t)(end - s) : len - off;

		if ((n == 15 && memcmp(s, "SUBSYSTEM=vmbus", 15) == 0) ||
		    (n == 13 && memcmp(s, "SUBSYSTEM=uio", 13) == 0))
			return true;
		off += n + 1;
	}
	return false;
}

/* 1: something relevant happened, 0: nothing, <0: the socket failed. */
static int drain_uevents(struct uio_tp *tp)
{
	char buf[8192];
	int relevant = 0;

	for (int i = 0; i < DRAIN_MAX; i++) {
		struct sockaddr_nl sa;
		struct iovec iov = {buf, sizeof(buf)};
		struct msghdr mh = {.msg_name = &sa, .msg_namelen = sizeof(sa), .msg_iov = &iov,
				    .msg_iovlen = 1};
		ssize_t r = recvmsg(tp->nl, &mh, MSG_DONTWAIT);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			if (errno == ENOBUFS) {
				/* Events were lost: only a rescan knows the state. */
				relevant = 1;
				continue;
			}
			log_err("uevent socket: %s", strerror(errno));
			return -errno;
		}
		/* Only the kernel (port 0) sends on the kernel group. */
		if (mh.msg_namelen != sizeof(sa) || sa.nl_pid != 0)
			continue;
		if ((mh.msg_flags & MSG_TRUNC) || uevent_relevant(buf, (size_t)r))
			relevant = 1;
	}
	return relevant;
}

/* 1: a watched tree changed, or a uio node under dev_root appeared, went
 * or changed owner or mode; 0: nothing of that; <0: inotify failed. */
static int drain_inotify(struct uio_tp *tp)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	int relevant = 0;

	for (int i = 0; i < DRAIN_MAX; i++) {
		ssize_t r = read(tp->ino, buf, sizeof(buf));

		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			log_err("inotify: %s", strerror(errno));
			return -errno;
		}
		for (ssize_t off = 0; off + (ssize_t)sizeof(struct inotify_event) <= r;) {
			const struct inotify_event *e = (const void *)(buf + off);

			if (e->wd != tp->dev_wd || (e->mask & IN_Q_OVERFLOW) ||
			    (e->len && strncmp(e->name, "uio", 3) == 0))
				relevant = 1;
			off += (ssize_t)sizeof(*e) + e->len;
		}
	}
	return relevant;
}

/* 1: the timer expired. */
static int drain_timer(struct uio_tp *tp)
{
	uint64_t n;

	return read(tp->tmr, &n, sizeof(n)) == (ssize_t)sizeof(n);
}

/* Plain trees only: watch the directories whose changes make a device appear,
 * change or become ready. A tree is expected to add a device directory and
 * its uio/ subtree each in one step (rename), as sysfs shows them complete
 * before the uevent. inotify_add_watch on a watched inode is a no-op. */
static void watch_tree(struct uio_tp *tp)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *d = opendir(tp->devices_dir);

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (md9_path_fmt(path, sizeof(path), "%s/%s", tp->devices_dir, e->d_name) == 0)
			inotify_add_watch(tp->ino, path, INOTIFY_DIR_MASK | IN_CLOSE_WRITE);
		if (md9_path_fmt(path, sizeof(path), "%s/%s/uio", tp->devices_dir, e->d_name) == 0)
			inotify_add_watch(tp->ino, path, INOTIFY_DIR_MASK);
	}
	closedir(d);
}

/* Why dev is not ready to open, or NULL when it is. */
static const char *not_ready(struct uio_tp *tp, const struct md9_vmbus_dev *dev)
{
	char path[PATH_MAX];

	if (dev->uio_index < 0)
		return "no uio";
	if (md9_path_fmt(path, sizeof(path), "%s/%s/uio/uio%d/maps/map0/size", tp->devices_dir,
		  dev->name, dev->uio_index) ||
	    access(path, F_OK) < 0)
		return "no maps";
	if (md9_path_fmt(path, sizeof(path), "%s/uio%d", tp->dev_root, dev->uio_index) ||
	    access(path, F_OK) < 0)
		return "no node";
	return NULL;
}

static const struct offered *find_offered(const struct offered *v, size_t n,
					  const struct md9_guid *instance)
{
	for (size_t i = 0; i < n; i++)
		if (md9_guid_eq(&v[i].instance, instance))
			return &v[i];
	return NULL;
}

static bool same_offer(const struct offered *a, const struct offered *b)
{
	return a->relid == b->relid && md9_guid_eq(&a->class_id, &b->class_id);
}

static bool is_stale(const struct uio_tp *tp, const struct md9_vmbus_dev *dev)
{
	for (size_t i = 0; i < tp->nstale; i++)
		if (md9_guid_eq(&tp->stale[i].instance, &dev->instance) &&
		    tp->stale[i].relid == dev->relid)
			return true;
	return false;
}

static const char *class_name(const struct md9_guid *class_id)
{
	if (md9_guid_eq(class_id, &md9_guid_control_class))
		return "SynthRdp control channel";
	if (md9_guid_eq(class_id, &md9_guid_data_class))
		return "SynthRdp data channel";
	return "bound class";
}

/* Basename of <devices>/<name>/driver into out; "" when unbound. */
static void driver_of(struct uio_tp *tp, const char *name, char *out, size_t cap)
{
	char path[PATH_MAX], link[PATH_MAX];
	const char *base;
	ssize_t n = -1;

	out[0] = '\0';
	if (md9_path_fmt(path, sizeof(path), "%s/%s/driver", tp->devices_dir, name) == 0)
		n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return;
	link[n] = '\0';
	base = strrchr(link, '/');
	base = base ? base + 1 : link;
	if (strlen(base) >= cap)
		return;
	memcpy(out, base, strlen(base) + 1);
}

/* The watchdog's one line for a device still not ready after UIO_WAIT_MS:
 * what is wrong, and the fix. Texts are asserted by the uio_ tests. */
static void warn_not_ready(struct uio_tp *tp, const struct md9_vmbus_dev *dev, const char *why)
{
	char rel[128], drv[256];
	const char *what = class_name(&dev->class_id);
	unsigned secs = UIO_WAIT_MS / 1000;

	md9_kernel_release(tp->proc_root, rel, sizeof(rel));
	driver_of(tp, dev->name, drv, sizeof(drv));
	if (strcmp(why, "no uio") == 0 && drv[0] && strcmp(drv, "uio_hv_generic") != 0) {
		log_warn("vmbus device %s (%s): bound to driver %s, not uio_hv_generic: give it to "
		         "uio_hv_generic: echo %s > %s/bus/vmbus/drivers/%s/unbind; echo %s > "
		         "%s/bus/vmbus/drivers/uio_hv_generic/bind",
		         dev->name, what, drv, dev->name, tp->sysfs_root, drv, dev->name,
		         tp->sysfs_root);
	} else if (strcmp(why, "no uio") == 0 && !dev->has_monitor &&
	           md9_kernel_before(rel, 6, 10) != 0) {
		/* K2: the pre-6.10 probe refuses channels without a monitor page. */
		log_warn(
		    "vmbus device %s (%s): no uio device %u s after binding: uio_hv_generic "
		    "did not take it and its channel has no monitor page; Linux before 6.10 "
		    "refuses such channels (kernel log: \"vmbus channel requires hypercall\"), "
		    "and this kernel is %s. Fix: Linux 6.10 or later (Debian 12: "
		    "linux-image-amd64 from bookworm-backports; Ubuntu 24.04: "
		    "linux-generic-hwe-24.04) or an out-of-tree uio_hv_generic; md9 doctor "
		    "tells more",
		    dev->name, what, secs, rel);
	} else if (strcmp(why, "no uio") == 0) {
		log_warn("vmbus device %s (%s): no uio device %u s after binding: uio_hv_generic "
		         "did not take it (%s; kernel %s); its probe failed: see why in the kernel "
		         "log (dmesg | grep -i uio_hv_generic; md9 doctor reads it as root)",
		         dev->name, what, secs,
		         dev->has_monitor
		             ? "its channel has a monitor page"
		             : "Linux 6.10 or later takes channels without a monitor page",
		         rel);
	} else if (strcmp(why, "no node") == 0) {
		log_warn("vmbus device %s (%s): uio_hv_generic took it as uio%d, but %s/uio%d does "
		         "not exist %u s later: %s is not devtmpfs, or something removed the node "
		         "(check: findmnt %s; systemctl status systemd-udevd)",
		         dev->name, what, dev->uio_index, tp->dev_root, dev->uio_index, secs,
		         tp->dev_root, tp->dev_root);
	} else {
		log_warn("vmbus device %s (%s): uio%d has no maps/map0 %u s after binding: not a "
		         "uio_hv_generic device md9 knows (kernel %s)",
		         dev->name, what, dev->uio_index, secs, rel);
	}
}

/* Keep the watchdog's list in step with a scan: devs are the devices of
 * the bound classes, ready[i] whether devs[i] can be opened. Warns about
 * those waiting too long; arms tmr for the next deadline. */
static void watchdog(struct uio_tp *tp, const struct md9_vmbus_dev *devs, const char *const *why,
                     size_t ndevs)
{
	struct timespec now = now_mono();
	struct waiting *w = NULL;
	size_t nw = 0;
	long next = -1;

	if (ndevs)
		w = calloc(ndevs, sizeof(*w));
	for (size_t i = 0; w && i < ndevs; i++) {
		const struct waiting *old = NULL;

		if (!why[i])
			continue;
		for (size_t k = 0; k < tp->nwaiting; k++)
			if (md9_guid_eq(&tp->waiting[k].dev.instance, &devs[i].instance) &&
			    tp->waiting[k].dev.relid == devs[i].relid)
				old = &tp->waiting[k];
		w[nw].dev = devs[i];
		w[nw].since = old ? old->since : now;
		w[nw].warned = old && old->warned;
		if (!w[nw].warned && ms_since(&w[nw].since, &now) >= UIO_WAIT_MS) {
			warn_not_ready(tp, &devs[i], why[i]);
			w[nw].warned = true;
		}
		if (!w[nw].warned) {
			long left = UIO_WAIT_MS - ms_since(&w[nw].since, &now);

			if (next < 0 || left < next)
				next = left;
		}
		nw++;
	}
	free(tp->waiting);
	tp->waiting = w;
	tp->nwaiting = nw;

	if (tp->periodic && (next < 0 || next > RESCAN_MS))
		next = RESCAN_MS;
	{
		struct itimerspec its = {0};

		if (next >= 0) {
			if (next < 1)
				next = 1;
			its.it_value.tv_sec = next / 1000;
			its.it_value.tv_nsec = (next % 1000) * 1000000;
		}
		timerfd_settime(tp->tmr, 0, &its, NULL);
	}
}

/* Forget stale entries whose device went away or got a new relid. */
static void prune_stale(struct uio_tp *tp, const struct md9_vmbus_dev *devs, size_t ndevs)
{
	for (size_t i = 0; i < tp->nstale; i++) {
		bool present = false;

		for (size_t k = 0; k < ndevs; k++)
			present |= md9_guid_eq(&devs[k].instance, &tp->stale[i].instance) &&
			           devs[k].relid == tp->stale[i].relid;
		if (!present)
			tp->stale[i--] = tp->stale[--tp->nstale];
	}
}

static int uio_poll_events(struct md9_transport *t, md9_dev_event_cb cb, void *arg)
{
	struct uio_tp *tp = tp_of(t);
	struct md9_vmbus_dev *devs = NULL;
	const char **why = NULL;
	struct offered *now = NULL;
	struct md9_dev_event *ev = NULL;
	size_t ndevs = 0, nnow = 0, nev = 0;
	bool rescan = !tp->scanned;
	uint64_t kicks;
	int r;

	if (read(tp->kick, &kicks, sizeof(kicks)) == (ssize_t)sizeof(kicks))
		rescan = true;
	if (tp->nl >= 0) {
		r = drain_uevents(tp);
		if (r < 0)
			return r;
		rescan |= r > 0;
	}
	r = drain_inotify(tp);
	if (r < 0)
		return r;
	rescan |= r > 0;
	rescan |= drain_timer(tp) > 0;
	if (!rescan)
		return 0;

	/* Watches first: a change between them and the scan is then either
	 * seen by the scan or queued for the next call. */
	if (!tp->sysfs)
		watch_tree(tp);
	if (tp->nclasses > 0) {
		r = md9_sysfs_scan(tp->devices_dir, tp->classes, tp->nclasses, &devs, &ndevs);
		if (r < 0) {
			log_err("scanning %s: %s", tp->devices_dir, strerror(-r));
			tp->scanned = false; /* the drained events are not lost */
			return r;
		}
	}

	if (ndevs) {
		now = calloc(ndevs, sizeof(*now));
		why = calloc(ndevs, sizeof(*why));
		if (!now || !why) {
			free(devs);
			free(now);
			free(why);
			tp->scanned = false;
			return -ENOMEM;
		}
	}
	prune_stale(tp, devs, ndevs);
	for (size_t i = 0; i < ndevs; i++) {
		if (is_stale(tp, &devs[i]))
			continue; /* K3: reported when open found it */
		why[i] = not_ready(tp, &devs[i]);
		if (why[i]) {
			log_debug("vmbus device %s: not ready (%s)", devs[i].name, why[i]);
			continue;
		}
		if (find_offered(now, nnow, &devs[i].instance)) {
			log_err("vmbus device %s: instance listed twice, ignored", devs[i].name);
			continue;
		}
		now[nnow++] = (struct offered){devs[i].instance, devs[i].class_id, devs[i].relid};
	}
	watchdog(tp, devs, why, ndevs);
	free(why);
	free(devs);

	if (tp->noffered + nnow) {
		ev = calloc(tp->noffered + nnow, sizeof(*ev));
		if (!ev) {
			free(now);
			tp->scanned = false;
			return -ENOMEM;
		}
	}
	/* Rescinds first: a device whose relid (or class) changed was
	 * rescinded and offered again between two scans. */
	for (size_t i = 0; i < tp->noffered; i++) {
		const struct offered *o = &tp->offered[i];
		const struct offered *n = find_offered(now, nnow, &o->instance);

		if (!n || !same_offer(n, o))
			ev[nev++] = (struct md9_dev_event){MD9_DEV_RESCIND, o->class_id,
							   o->instance};
	}
	for (size_t i = 0; i < nnow; i++) {
		const struct offered *o = find_offered(tp->offered, tp->noffered, &now[i].instance);

		if (!o || !same_offer(o, &now[i]))
			ev[nev++] = (struct md9_dev_event){MD9_DEV_OFFER, now[i].class_id,
							   now[i].instance};
	}
	free(tp->offered);
	tp->offered = now;
	tp->noffered = nnow;
	tp->scanned = true;

	/* State is committed before the callbacks, which may call open(). */
	for (size_t i = 0; i < nev; i++) {
		char g[MD9_GUID_STRLEN];

		log_debug("vmbus %s %s", ev[i].kind == MD9_DEV_OFFER ? "offer" : "rescind",
			  md9_guid_format(&ev[i].instance, g));
		cb(arg, &ev[i]);
	}
	free(ev);
	return (int)nev;
}

/* ---- open ---- */

/* Find the device directory of `instance`: named by it on current kernels
 * (vmbus_device_register: dev_set_name "%pUl"), else (older "vmbus_N" names)
 * by scanning device_id. */
static int find_dev(struct uio_tp *tp, const struct md9_guid *instance, struct md9_vmbus_dev *dev)
{
	char name[MD9_GUID_STRLEN];
	struct md9_vmbus_dev *all;
	size_t n;
	int dfd, err;

	md9_guid_format(instance, name);
	dfd = open(tp->devices_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	err = md9_sysfs_read_dev(dfd, name, NULL, 0, dev);
	if (err == -ENOENT && faccessat(dfd, name, F_OK, 0) == 0)
		err = -EAGAIN; /* directory there, attributes not (yet/any more) */
	close(dfd);
	/* Attributes of a device being unregistered fail with ENODEV
	 * (vmbus_drv.c *_show: no channel any more). */
	if (err == -ENODEV)
		return -ENOENT;
	if (err != -ENOENT)
		return err;

	err = md9_sysfs_scan(tp->devices_dir, NULL, 0, &all, &n);
	if (err)
		return err;
	err = -ENOENT;
	for (size_t i = 0; i < n; i++) {
		if (md9_guid_eq(&all[i].instance, instance)) {
			*dev = all[i];
			err = 0;
			break;
		}
	}
	free(all);
	return err;
}

/* Size of map `idx` of uioN: -EAGAIN while the map is not there yet (the
 * uio core adds maps after the uio device), -EINVAL when malformed. */
static int map_size(struct uio_tp *tp, const struct md9_vmbus_dev *dev, int idx, uint64_t *size)
{
	char path[PATH_MAX], buf[64];
	ssize_t r;
	int err;

	err = md9_path_fmt(path, sizeof(path), "%s/%s/uio/uio%d/maps/map%d/size", tp->devices_dir,
		    dev->name, dev->uio_index, idx);
	if (err)
		return err;
	r = md9_sysfs_read(AT_FDCWD, path, buf, sizeof(buf));
	if (r == -ENOENT)
		return -EAGAIN;
	if (r < 0 && r != -EFBIG)
		return (int)r;
	if (r < 0 || md9_parse_hex_u64(buf, size)) {
		log_err("%s: malformed map size '%.*s'", path, r < 0 ? 11 : (int)strcspn(buf, "\n"),
			r < 0 ? "(too large)" : buf);
		return -EINVAL;
	}
	return 0;
}

static void chan_unmap(struct uio_chan *c)
{
	if (c->rings)
		munmap(c->rings, c->rings_len);
	if (c->int_page)
		munmap(c->int_page, c->int_len);
	if (c->mon_page)
		munmap(c->mon_page, c->mon_len);
	c->rings = c->int_page = c->mon_page = NULL;
}

static int map_one(int fd, size_t page, int idx, size_t len, void **out)
{
	/* mmap offset selects the map: index * PAGE_SIZE [K-core uio_mmap,
	 * uio_find_mem_index; D vmbus_uio_map_resource_by_index]. */
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)idx * (off_t)page);

	if (p == MAP_FAILED)
		return -errno;
	/* A forked child must not keep the channel's memory (nor, through the
	 * mapping, the uio file, whose last release closes the channel). */
	madvise(p, len, MADV_DONTFORK);
	*out = p;
	return 0;
}

/* K3: a kernel without the 2024-08 rescind fix keeps the rescinded device;
 * its first open() then fails with ENODEV (vmbus_open on a rescinded
 * channel). Said once per (instance, relid); the device is reported
 * rescinded by the next poll_events and offered again only under a new relid
 * or a new directory. */
static void rescind_kept(struct uio_tp *tp, const struct md9_vmbus_dev *dev, const char *path)
{
	char rel[128];
	struct stale *ns;

	snprintf(tp->base.why, sizeof(tp->base.why),
	         "the kernel kept it after the host rescinded it and it cannot be reopened");
	if (is_stale(tp, dev))
		return;
	ns = realloc(tp->stale, (tp->nstale + 1) * sizeof(*ns));
	if (!ns)
		return;
	tp->stale = ns;
	tp->stale[tp->nstale++] = (struct stale){dev->instance, dev->relid};
	md9_kernel_release(tp->proc_root, rel, sizeof(rel));
	log_warn("vmbus device %s (%s): reopening %s fails (ENODEV): the host rescinded this "
	         "channel and the kernel (%s) kept the device instead of removing it, so the "
	         "host's next offer of it never arrives: it stays lost until a reboot. Fix: a "
	         "kernel with \"Drivers: hv: vmbus: Fix rescind handling in uio_hv_generic\" "
	         "(2024-08, also in stable updates)",
	         dev->name, class_name(&dev->class_id), path, rel);
	kick(tp);
}

static int uio_open(struct md9_transport *t, const struct md9_guid *instance,
		    struct md9_channel **out)
{
	struct uio_tp *tp = tp_of(t);
	struct md9_vmbus_dev dev;
	struct uio_chan *c = NULL;
	char g[MD9_GUID_STRLEN], path[PATH_MAX];
	uint64_t rings = 0, intsz = 0, monsz = 0;
	size_t page = tp->page, half;
	struct stat st;
	int fd = -1, err;

	*out = NULL;
	t->why[0] = '\0';
	md9_guid_format(instance, g);
	err = find_dev(tp, instance, &dev);
	if (err) {
		if (err == -EAGAIN)
			snprintf(t->why, sizeof(t->why), "its sysfs directory is incomplete");
		if (err == -ENOENT || err == -EAGAIN)
			log_debug("open %s: %s", g, err == -ENOENT ? "not offered" : "not ready");
		return err;
	}
	if (is_stale(tp, &dev)) {
		snprintf(t->why, sizeof(t->why),
		         "the kernel kept it after the host rescinded it (see above)");
		return -ENODEV;
	}
	if (dev.uio_index < 0) {
		snprintf(t->why, sizeof(t->why), "not bound to uio_hv_generic yet (no uio/)");
		log_debug("open %s: not bound to uio_hv_generic yet", g);
		return -EAGAIN;
	}

	/* Map 0: TX ring then RX ring, each half of it, each a control page of
	 * PAGE_SIZE then data [K-uio hv_uio_probe; D vmbus_uio_map_rings]. */
	err = map_size(tp, &dev, MAP_TXRX_RING, &rings);
	if (err == -EAGAIN)
		snprintf(t->why, sizeof(t->why), "uio%d has no maps yet", dev.uio_index);
	if (err)
		return err;
	if (rings % (2 * page) || rings < 4 * page || rings / 2 - page >= (1u << 31)) {
		log_err("open %s: ring map size %#llx: not an even number (>= 4) of pages", g,
			(unsigned long long)rings);
		return -EINVAL;
	}
	half = (size_t)(rings / 2);

	if (dev.has_monitor) {
		err = map_size(tp, &dev, MAP_INT_PAGE, &intsz);
		if (!err)
			err = map_size(tp, &dev, MAP_MON_PAGE, &monsz);
		if (err == -EAGAIN)
			snprintf(t->why, sizeof(t->why), "uio%d has no maps yet", dev.uio_index);
		if (err)
			return err;
		if (intsz < HV_HYP_PAGE || intsz > SMALL_MAP_MAX || monsz < HV_HYP_PAGE ||
		    monsz > SMALL_MAP_MAX) {
			log_err("open %s: interrupt/monitor map sizes %#llx/%#llx not one page", g,
				(unsigned long long)intsz, (unsigned long long)monsz);
			return -EINVAL;
		}
		if (HV_SEND_INT_OFFSET + 4 * ((uint64_t)dev.relid / 32) + 4 > intsz) {
			log_err("open %s: relid %u beyond the interrupt page", g, dev.relid);
			return -EINVAL;
		}
	}

	err = md9_path_fmt(path, sizeof(path), "%s/uio%d", tp->dev_root, dev.uio_index);
	if (err)
		return err;
	/* The first open of /dev/uioN opens the VMBus channel; the last release
	 * (close and munmap) closes it [K-uio hv_uio_open, hv_uio_release].
	 * O_NONBLOCK makes read() return EAGAIN when no event is pending
	 * [K-core uio_read]. */
	fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		err = -errno;
		if (err == -ENOENT) {
			snprintf(t->why, sizeof(t->why), "%.400s does not exist yet", path);
			return -EAGAIN;
		}
		if (err == -EACCES || err == -EPERM) {
			/* K7: devtmpfs creates the node root 0600; udev gives it to
			 * group md9 a moment later. Not ready yet, not a failure:
			 * the change of owner/mode wakes event_fd (dev_wd). */
			snprintf(
			    t->why, sizeof(t->why),
			    "%.200s: permission denied: the node is not md9's yet (udev applies "
			    "GROUP=md9 from 60-md9.rules after the kernel creates it root-only); "
			    "if this lasts, install the rule (md9 setup) and run: udevadm "
			    "trigger --subsystem-match=uio --action=add",
			    path);
			log_debug("open %s: %s", g, t->why);
			return -EAGAIN;
		}
		if (err == -ENODEV) {
			rescind_kept(tp, &dev, path);
			return -ENODEV;
		}
		log_err("open %s (%s): %s", path, g, strerror(-err));
		return err;
	}
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto fail;
	}
	/* A regular file stands in for the device in tests: it must hold every
	 * window mapped from it, or touching the memory would fault. */
	if (!S_ISCHR(st.st_mode) &&
	    (!S_ISREG(st.st_mode) || (uint64_t)st.st_size < rings ||
	     (dev.has_monitor && ((uint64_t)st.st_size < page * MAP_INT_PAGE + intsz ||
				  (uint64_t)st.st_size < page * MAP_MON_PAGE + monsz)))) {
		log_err("open %s: %s is neither a uio device nor large enough", g, path);
		err = -EINVAL;
		goto fail;
	}

	c = calloc(1, sizeof(*c));
	if (!c) {
		err = -ENOMEM;
		goto fail;
	}
	c->rings_len = half * 2;
	err = map_one(fd, page, MAP_TXRX_RING, c->rings_len, &c->rings);
	if (err) {
		log_err("open %s: mmap ring map: %s", g, strerror(-err));
		goto fail;
	}
	err = vmbus_ring_attach(&c->ch.tx, c->rings, page, half - page);
	if (!err)
		err = vmbus_ring_attach(&c->ch.rx, (uint8_t *)c->rings + half, page, half - page);
	if (err) {
		log_err("open %s: ring indices out of range", g);
		goto fail;
	}

	if (dev.has_monitor) {
		c->int_len = (size_t)intsz;
		c->mon_len = (size_t)monsz;
		err = map_one(fd, page, MAP_INT_PAGE, c->int_len, &c->int_page);
		if (!err)
			err = map_one(fd, page, MAP_MON_PAGE, c->mon_len, &c->mon_page);
		if (err) {
			log_err("open %s: mmap interrupt/monitor page: %s", g, strerror(-err));
			goto fail;
		}
		/* Bit relid of the send half, bit monitor_id % 32 of trigger group
		 * monitor_id / 32's pending word [K-bus vmbus_setevent;
		 * D vmbus_send_interrupt, vmbus_set_monitor]. */
		c->monitored = true;
		c->int_word = (uint32_t *)((uint8_t *)c->int_page + HV_SEND_INT_OFFSET) +
			      dev.relid / 32;
		c->int_bit = 1u << (dev.relid % 32);
		c->mon_word = (uint32_t *)((uint8_t *)c->mon_page + HV_MON_TRIG_OFFSET +
					   HV_MON_TRIG_STRIDE * (dev.monitor_id / HV_MON_TRIG_LEN));
		c->mon_bit = 1u << (dev.monitor_id % HV_MON_TRIG_LEN);
	}

	vmbus_ring_writer_init(&c->ch.tx);
	/* hv_uio_open leaves the RX interrupt_mask set: clear it so the host
	 * signals new data. Data already there is found by the caller's first
	 * drain after open. */
	(void)vmbus_ring_unmask(&c->ch.rx);

	c->ch.tp = t;
	c->ch.instance = *instance;
	c->ch.fd = fd;
	c->ch.priv = NULL;
	log_info("opened vmbus channel %s (uio%d, relid %u, %s, ring %zu KiB per direction)", g,
		 dev.uio_index, dev.relid, dev.has_monitor ? "monitored" : "not monitored",
		 (half - page) / 1024);
	*out = &c->ch;
	return 0;

fail:
	if (c) {
		chan_unmap(c);
		free(c);
	}
	close(fd);
	return err;
}

/* ---- per channel ---- */

static int uio_signal(struct md9_channel *ch)
{
	struct uio_chan *c = container_of(ch, struct uio_chan, ch);
	const int32_t on = 1;
	ssize_t w;

	if (ch->gone)
		return -EIO;
	if (c->monitored) {
		/* The kernel does not signal monitored channels for us
		 * (hv_uio_irqcontrol); set the channel's interrupt bit, then its
		 * monitor trigger bit, as vmbus_setevent and DPDK vmbus_set_event
		 * do. The seq_cst RMWs order every earlier ring store before them. */
		__atomic_fetch_or(c->int_word, c->int_bit, __ATOMIC_SEQ_CST);
		__atomic_fetch_or(c->mon_word, c->mon_bit, __ATOMIC_SEQ_CST);
		return 0;
	}
	/* write(1) runs hv_uio_irqcontrol(1): it signals the host
	 * (vmbus_setevent) AND clears our RX ring's interrupt_mask. Clearing it
	 * while the reader drains with the ring masked can only cause an extra
	 * wake-up (ack handles it), never a lost one. */
	do {
		w = write(ch->fd, &on, sizeof(on));
	} while (w < 0 && errno == EINTR);
	if (w == (ssize_t)sizeof(on))
		return 0;
	/* uio_write: EIO once hv_uio_rescind set irq = 0, EINVAL once the
	 * device is unregistered [K-core uio_write]: the channel is gone. */
	if (w >= 0 || errno == EIO || errno == EINVAL || errno == ENODEV)
		return -EIO;
	return -errno;
}

static int uio_ack(struct md9_channel *ch)
{
	int32_t count;
	ssize_t r;

	/* read() returns the event count and consumes every pending event
	 * [K-core uio_read]. After a rescind hv_uio_rescind sets info->irq = 0:
	 * read fails with EIO; once the device is unregistered newer kernels
	 * fail with EINVAL (dead info_ref). */
	do {
		r = read(ch->fd, &count, sizeof(count));
	} while (r < 0 && errno == EINTR);
	if (r == (ssize_t)sizeof(count))
		return 0;
	if (r < 0 && errno == EAGAIN)
		return 0;
	if (r < 0 && errno != EIO && errno != EINVAL && errno != ENODEV)
		return -errno;
	return -EIO;
}

static void uio_close(struct md9_channel *ch)
{
	struct uio_chan *c;
	char g[MD9_GUID_STRLEN];

	if (!ch)
		return;
	c = container_of(ch, struct uio_chan, ch);
	log_debug("closing vmbus channel %s", md9_guid_format(&ch->instance, g));
	chan_unmap(c);
	if (ch->fd >= 0)
		close(ch->fd);
	free(c);
}

static void uio_destroy(struct md9_transport *t)
{
	struct uio_tp *tp;

	if (!t)
		return;
	tp = tp_of(t);
	if (tp->epfd >= 0)
		close(tp->epfd);
	if (tp->nl >= 0)
		close(tp->nl);
	if (tp->ino >= 0)
		close(tp->ino);
	if (tp->tmr >= 0)
		close(tp->tmr);
	if (tp->kick >= 0)
		close(tp->kick);
	free(tp->classes);
	free(tp->offered);
	free(tp->waiting);
	free(tp->stale);
	free(tp->sysfs_root);
	free(tp->dev_root);
	free(tp->proc_root);
	free(tp);
}

static const struct md9_transport_ops uio_ops = {
	.name = "uio",
	.bind_class = uio_bind_class,
	.event_fd = uio_event_fd,
	.poll_events = uio_poll_events,
	.open = uio_open,
	.signal = uio_signal,
	.ack = uio_ack,
	.close = uio_close,
	.destroy = uio_destroy,
};

static int open_uevent_socket(void)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = UEVENT_GROUP_KERNEL};
	int rcvbuf = 1 << 20;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
			NETLINK_KOBJECT_UEVENT);

	if (fd < 0)
		return -errno;
	/* Best effort: a larger queue makes ENOBUFS (and a full rescan) rarer. */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static int watch_fd(struct uio_tp *tp, int fd)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};

	if (epoll_ctl(tp->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		log_err("uio: epoll: %s", strerror(errno));
		return -1;
	}
	return 0;
}

struct md9_transport *md9_transport_uio_new(const struct md9_roots *roots)
{
	const char *sysfs_root = roots->sys, *dev_root = roots->dev;
	struct uio_tp *tp;
	struct statfs sfs;
	struct stat st;
	long page = sysconf(_SC_PAGESIZE);

	if (page < (long)HV_HYP_PAGE || (page & (page - 1))) {
		log_err("uio: unsupported page size %ld", page);
		return NULL;
	}
	tp = calloc(1, sizeof(*tp));
	if (!tp)
		return NULL;
	tp->base.ops = &uio_ops;
	tp->epfd = tp->nl = tp->ino = tp->tmr = tp->kick = tp->dev_wd = -1;
	tp->page = (size_t)page;
	tp->sysfs_root = strdup(sysfs_root);
	tp->dev_root = strdup(dev_root);
	tp->proc_root = strdup(roots->proc);
	if (!tp->sysfs_root || !tp->dev_root || !tp->proc_root)
		goto fail;
	if (md9_path_fmt(tp->devices_dir, sizeof(tp->devices_dir), "%s/bus/vmbus/devices", sysfs_root) ||
	    md9_path_fmt(tp->driver_dir, sizeof(tp->driver_dir), "%s/bus/vmbus/drivers/uio_hv_generic",
		  sysfs_root)) {
		log_err("uio: path too long: %s", sysfs_root);
		goto fail;
	}
	if (stat(tp->devices_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		log_err("uio: %s missing: not a Hyper-V guest, or hv_vmbus not loaded",
			tp->devices_dir);
		goto fail;
	}
	tp->epfd = epoll_create1(EPOLL_CLOEXEC);
	tp->kick = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	tp->tmr = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	tp->ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (tp->epfd < 0 || tp->kick < 0 || tp->tmr < 0 || tp->ino < 0) {
		log_err("uio: %s", strerror(errno));
		goto fail;
	}
	if (watch_fd(tp, tp->kick) || watch_fd(tp, tp->tmr) || watch_fd(tp, tp->ino))
		goto fail;
	/* Uio nodes appearing, going, or changing owner or mode (K7). */
	tp->dev_wd = inotify_add_watch(tp->ino, dev_root,
	                               IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM |
	                                   IN_ATTRIB | IN_ONLYDIR);
	if (tp->dev_wd < 0) {
		log_err("uio: watching %s: %s", dev_root, strerror(errno));
		goto fail;
	}
	/* Kernel uevents are the only change notification real sysfs gives
	 * (inotify sees nothing there); any other tree is an ordinary
	 * directory, where inotify sees every change. */
	tp->sysfs = statfs(tp->devices_dir, &sfs) == 0 && sfs.f_type == SYSFS_MAGIC_NUMBER;
	if (!tp->sysfs) {
		if (inotify_add_watch(tp->ino, tp->devices_dir, INOTIFY_DIR_MASK) < 0) {
			log_err("uio: watching %s: %s", tp->devices_dir, strerror(errno));
			goto fail;
		}
		return &tp->base;
	}
	tp->nl = open_uevent_socket();
	if (tp->nl < 0) {
		/* Some containers have no uevent socket: poll instead. */
		log_warn("uio: no kernel uevents (%s): rescanning %s every %d ms",
		         strerror(-tp->nl), tp->devices_dir, RESCAN_MS);
		tp->nl = -1;
		tp->periodic = true;
	} else if (watch_fd(tp, tp->nl)) {
		goto fail;
	}
	return &tp->base;

fail:
	uio_destroy(&tp->base);
	return NULL;
}
