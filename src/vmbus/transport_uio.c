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
 * -EAGAIN when it exists but is not ready yet; an OFFER follows when it is. */
#include "transport.h"

#include "log.h"
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

/* Netlink multicast group of kernel uevents (lib/kobject_uevent.c). */
#define UEVENT_GROUP_KERNEL 1u
/* Events drained per poll_events call; more stay queued and keep the fd
 * readable (the caller's loop is level-triggered). */
#define DRAIN_MAX 256

#define INOTIFY_DIR_MASK                                                                           \
	(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF |    \
	 IN_ONLYDIR)

struct offered {
	struct md9_guid instance;
	struct md9_guid class_id;
	uint32_t relid;
};

struct uio_tp {
	struct md9_transport base;
	char *sysfs_root;
	char *dev_root;
	char devices_dir[PATH_MAX];
	char driver_dir[PATH_MAX];
	size_t page;
	/* true: kernel uevents (real /sys); false: inotify on a fake tree. */
	bool uevent;
	/* event_fd: an epoll set of src and kick, readable when either is. */
	int epfd;
	int src;
	/* eventfd written by bind_class: the next poll_events must rescan. */
	int kick;
	bool scanned;
	struct md9_guid *classes;
	size_t nclasses;
	struct offered *offered;
	size_t noffered;
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

static int pathf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int pathf(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(buf, n, fmt, ap);
	va_end(ap);
	return r < 0 || (size_t)r >= n ? -ENAMETOOLONG : 0;
}

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
	char text[MD9_GUID_STRLEN + 1], path[PATH_MAX];
	struct stat st;
	uint64_t one = 1;
	int err;

	/* new_id takes the GUID as guid_parse reads it: 36 characters; a
	 * trailing newline is ignored [K-bus new_id_store]. */
	md9_guid_format(class_id, text);
	strcat(text, "\n");

	if (stat(tp->driver_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		log_err("uio_hv_generic not loaded: modprobe uio_hv_generic (%s missing)",
			tp->driver_dir);
		return -ENOENT;
	}
	err = pathf(path, sizeof(path), "%s/new_id", tp->driver_dir);
	if (!err)
		err = md9_sysfs_write(path, text);
	/* EEXIST: the id is already in the driver's dynamic id list
	 * [K-bus new_id_store]; its devices are bound already. */
	if (err == -EEXIST) {
		log_debug("class %.36s already bound to uio_hv_generic", text);
		err = 0;
	}
	/* Not root (the unit runs md9 as User=md9): only root may write
	 * new_id; `md9 bind-classes` did it as root before (ExecStartPre=+,
	 * the udev rule). */
	if ((err == -EACCES || err == -EPERM || err == -EROFS) && geteuid() != 0) {
		log_debug("class %.36s: new_id is root's; relying on md9 bind-classes", text);
		err = 0;
	}
	if (err) {
		log_err("binding class %.36s to uio_hv_generic (%s): %s%s", text, path,
			strerror(-err), err == -EACCES || err == -EPERM ? " (needs root)" : "");
		return err;
	}
	if (!class_known(tp, class_id)) {
		struct md9_guid *nc = realloc(tp->classes, (tp->nclasses + 1) * sizeof(*nc));

		if (!nc)
			return -ENOMEM;
		tp->classes = nc;
		tp->classes[tp->nclasses++] = *class_id;
		log_info("class %.36s bound to uio_hv_generic", text);
	}
	/* Devices of this class may be present already: make event_fd readable
	 * so the caller's next poll_events rescans. */
	if (write(tp->kick, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

/* ---- events ---- */

static int uio_event_fd(struct md9_transport *t)
{
	return tp_of(t)->epfd;
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
		ssize_t r = recvmsg(tp->src, &mh, MSG_DONTWAIT);

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

static int drain_inotify(struct uio_tp *tp)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	int any = 0;

	for (int i = 0; i < DRAIN_MAX; i++) {
		ssize_t r = read(tp->src, buf, sizeof(buf));

		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			log_err("inotify: %s", strerror(errno));
			return -errno;
		}
		if (r > 0)
			any = 1;
	}
	return any;
}

/* Fake trees only: watch the directories whose changes make a device appear,
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
		if (pathf(path, sizeof(path), "%s/%s", tp->devices_dir, e->d_name) == 0)
			inotify_add_watch(tp->src, path, INOTIFY_DIR_MASK | IN_CLOSE_WRITE);
		if (pathf(path, sizeof(path), "%s/%s/uio", tp->devices_dir, e->d_name) == 0)
			inotify_add_watch(tp->src, path, INOTIFY_DIR_MASK);
	}
	closedir(d);
}

static bool dev_ready(struct uio_tp *tp, const struct md9_vmbus_dev *dev)
{
	char path[PATH_MAX];

	if (dev->uio_index < 0)
		return false;
	if (pathf(path, sizeof(path), "%s/%s/uio/uio%d/maps/map0/size", tp->devices_dir,
		  dev->name, dev->uio_index) ||
	    access(path, F_OK) < 0)
		return false;
	if (pathf(path, sizeof(path), "%s/uio%d", tp->dev_root, dev->uio_index) ||
	    access(path, F_OK) < 0)
		return false;
	return true;
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

static int uio_poll_events(struct md9_transport *t, md9_dev_event_cb cb, void *arg)
{
	struct uio_tp *tp = tp_of(t);
	struct md9_vmbus_dev *devs = NULL;
	struct offered *now = NULL;
	struct md9_dev_event *ev = NULL;
	size_t ndevs = 0, nnow = 0, nev = 0;
	bool rescan = !tp->scanned;
	uint64_t kicks;
	int r;

	if (read(tp->kick, &kicks, sizeof(kicks)) == (ssize_t)sizeof(kicks))
		rescan = true;
	r = tp->uevent ? drain_uevents(tp) : drain_inotify(tp);
	if (r < 0)
		return r;
	if (r > 0)
		rescan = true;
	if (!rescan)
		return 0;

	/* Watches first: a change between them and the scan is then either
	 * seen by the scan or queued for the next call. */
	if (!tp->uevent)
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
		if (!now) {
			free(devs);
			tp->scanned = false;
			return -ENOMEM;
		}
	}
	for (size_t i = 0; i < ndevs; i++) {
		if (!dev_ready(tp, &devs[i])) {
			log_debug("vmbus device %s: not bound to uio yet", devs[i].name);
			continue;
		}
		if (find_offered(now, nnow, &devs[i].instance)) {
			log_err("vmbus device %s: instance listed twice, ignored", devs[i].name);
			continue;
		}
		now[nnow++] = (struct offered){devs[i].instance, devs[i].class_id, devs[i].relid};
	}
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

	err = pathf(path, sizeof(path), "%s/%s/uio/uio%d/maps/map%d/size", tp->devices_dir,
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
	md9_guid_format(instance, g);
	err = find_dev(tp, instance, &dev);
	if (err) {
		if (err == -ENOENT || err == -EAGAIN)
			log_debug("open %s: %s", g, err == -ENOENT ? "not offered" : "not ready");
		return err;
	}
	if (dev.uio_index < 0) {
		log_debug("open %s: not bound to uio_hv_generic yet", g);
		return -EAGAIN;
	}

	/* Map 0: TX ring then RX ring, each half of it, each a control page of
	 * PAGE_SIZE then data [K-uio hv_uio_probe; D vmbus_uio_map_rings]. */
	err = map_size(tp, &dev, MAP_TXRX_RING, &rings);
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

	err = pathf(path, sizeof(path), "%s/uio%d", tp->dev_root, dev.uio_index);
	if (err)
		return err;
	/* The first open of /dev/uioN opens the VMBus channel; the last release
	 * (close and munmap) closes it [K-uio hv_uio_open, hv_uio_release].
	 * O_NONBLOCK makes read() return EAGAIN when no event is pending
	 * [K-core uio_read]. */
	fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		err = -errno;
		if (err == -ENOENT)
			return -EAGAIN;
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
	if (w >= 0)
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
	if (tp->src >= 0)
		close(tp->src);
	if (tp->kick >= 0)
		close(tp->kick);
	free(tp->classes);
	free(tp->offered);
	free(tp->sysfs_root);
	free(tp->dev_root);
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

static int open_inotify(struct uio_tp *tp)
{
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (inotify_add_watch(fd, tp->devices_dir, INOTIFY_DIR_MASK) < 0 ||
	    inotify_add_watch(fd, tp->dev_root, INOTIFY_DIR_MASK) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

struct md9_transport *md9_transport_uio_new(const char *sysfs_root, const char *dev_root)
{
	struct uio_tp *tp;
	struct epoll_event ev = {.events = EPOLLIN};
	struct stat st;
	long page = sysconf(_SC_PAGESIZE);
	int err;

	if (page < (long)HV_HYP_PAGE || (page & (page - 1))) {
		log_err("uio: unsupported page size %ld", page);
		return NULL;
	}
	tp = calloc(1, sizeof(*tp));
	if (!tp)
		return NULL;
	tp->base.ops = &uio_ops;
	tp->epfd = tp->src = tp->kick = -1;
	tp->page = (size_t)page;
	tp->sysfs_root = strdup(sysfs_root);
	tp->dev_root = strdup(dev_root);
	if (!tp->sysfs_root || !tp->dev_root)
		goto fail;
	if (pathf(tp->devices_dir, sizeof(tp->devices_dir), "%s/bus/vmbus/devices", sysfs_root) ||
	    pathf(tp->driver_dir, sizeof(tp->driver_dir), "%s/bus/vmbus/drivers/uio_hv_generic",
		  sysfs_root)) {
		log_err("uio: path too long: %s", sysfs_root);
		goto fail;
	}
	if (stat(tp->devices_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		log_err("uio: %s missing: not a Hyper-V guest, or hv_vmbus not loaded",
			tp->devices_dir);
		goto fail;
	}
	/* Kernel uevents are the only change notification real sysfs gives
	 * (inotify sees nothing there); a fake tree is an ordinary directory. */
	tp->uevent = strcmp(sysfs_root, "/sys") == 0;
	err = tp->uevent ? open_uevent_socket() : open_inotify(tp);
	if (err < 0) {
		log_err("uio: %s: %s", tp->uevent ? "uevent socket" : "inotify", strerror(-err));
		goto fail;
	}
	tp->src = err;
	tp->kick = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	tp->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (tp->kick < 0 || tp->epfd < 0) {
		log_err("uio: %s", strerror(errno));
		goto fail;
	}
	ev.data.fd = tp->src;
	if (epoll_ctl(tp->epfd, EPOLL_CTL_ADD, tp->src, &ev) < 0)
		goto fail_errno;
	ev.data.fd = tp->kick;
	if (epoll_ctl(tp->epfd, EPOLL_CTL_ADD, tp->kick, &ev) < 0)
		goto fail_errno;
	return &tp->base;

fail_errno:
	log_err("uio: epoll: %s", strerror(errno));
fail:
	uio_destroy(&tp->base);
	return NULL;
}
