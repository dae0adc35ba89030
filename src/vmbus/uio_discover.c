/* Which devices of the bound classes are ready to open, and the offers and
 * rescinds that follow from a change (poll_events). Changes are seen through
 * kernel uevents on real sysfs (or a periodic rescan without them), inotify
 * on any other tree, and inotify on the /dev root for the nodes. Sources:
 * uio_private.h; facts in docs/uio.md, "Finding devices". */
#include "uio_private.h"

#include "path.h"

#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <unistd.h>

/* statfs f_type of sysfs (include/uapi/linux/magic.h SYSFS_MAGIC). */
#define SYSFS_MAGIC_NUMBER 0x62656572
/* Netlink multicast group of kernel uevents (lib/kobject_uevent.c). */
#define UEVENT_GROUP_KERNEL 1u
/* Events drained per poll_events call; more stay queued and keep the fd
 * readable (the caller's loop is level-triggered). */
#define DRAIN_MAX 256

#define INOTIFY_DIR_MASK                                                                           \
	(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF |     \
	 IN_ONLYDIR)

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
		struct msghdr mh = {
		    .msg_name = &sa, .msg_namelen = sizeof(sa), .msg_iov = &iov, .msg_iovlen = 1};
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

/* The deadline passed: the next poll_events rescans (and so runs the
 * watchdog). */
static void on_timer(struct ev_timer *t)
{
	uio_tp_kick(t->arg);
}

/* Arm the timer for the watchdog's next deadline (ms, -1: none) or the next
 * periodic rescan, whichever comes first; cancel it when neither is due. */
static void arm_timer(struct uio_tp *tp, long next)
{
	if (tp->periodic && (next < 0 || next > UIO_RESCAN_MS))
		next = UIO_RESCAN_MS;
	if (next < 0)
		ev_timer_cancel(tp->loop, &tp->tmr);
	else
		ev_timer_arm(tp->loop, &tp->tmr, next < 1 ? 1u : (unsigned)next, on_timer, tp);
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
		if (md9_path_fmt(path, sizeof(path), "%s/%s", tp->devices_dir, e->d_name) ==
		    0)
			inotify_add_watch(tp->ino, path, INOTIFY_DIR_MASK | IN_CLOSE_WRITE);
		if (md9_path_fmt(path, sizeof(path), "%s/%s/uio", tp->devices_dir,
		                        e->d_name) == 0)
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
	if (md9_path_fmt(path, sizeof(path), "%s/%s/uio/uio%d/maps/map0/size",
	                        tp->devices_dir, dev->name, dev->uio_index) ||
	    access(path, F_OK) < 0)
		return "no maps";
	if (md9_path_fmt(path, sizeof(path), "%s/uio%d", tp->dev_root, dev->uio_index) ||
	    access(path, F_OK) < 0)
		return "no node";
	return NULL;
}

static const struct uio_offered *find_offered(const struct uio_offered *v, size_t n,
                                              const struct md9_guid *instance)
{
	for (size_t i = 0; i < n; i++)
		if (md9_guid_eq(&v[i].instance, instance))
			return &v[i];
	return NULL;
}

static bool same_offer(const struct uio_offered *a, const struct uio_offered *b)
{
	return a->relid == b->relid && md9_guid_eq(&a->class_id, &b->class_id);
}

int uio_discover_poll(struct md9_transport *t, md9_dev_event_cb cb, void *arg)
{
	struct uio_tp *tp = uio_tp_of(t);
	struct md9_vmbus_dev *devs = NULL;
	const char **why = NULL;
	struct uio_offered *now = NULL;
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
	uio_rescind_prune(tp, devs, ndevs);
	for (size_t i = 0; i < ndevs; i++) {
		if (uio_rescind_is_stale(tp, &devs[i]))
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
		now[nnow++] =
		    (struct uio_offered){devs[i].instance, devs[i].class_id, devs[i].relid};
	}
	arm_timer(tp, uio_watch_update(tp, devs, why, ndevs));
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
		const struct uio_offered *o = &tp->offered[i];
		const struct uio_offered *n = find_offered(now, nnow, &o->instance);

		if (!n || !same_offer(n, o))
			ev[nev++] =
			    (struct md9_dev_event){MD9_DEV_RESCIND, o->class_id, o->instance};
	}
	for (size_t i = 0; i < nnow; i++) {
		const struct uio_offered *o =
		    find_offered(tp->offered, tp->noffered, &now[i].instance);

		if (!o || !same_offer(o, &now[i]))
			ev[nev++] =
			    (struct md9_dev_event){MD9_DEV_OFFER, now[i].class_id, now[i].instance};
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

static int open_uevent_socket(void)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = UEVENT_GROUP_KERNEL};
	int rcvbuf = 1 << 20;
	int fd =
	    socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);

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

int uio_discover_init(struct uio_tp *tp)
{
	struct statfs sfs;

	/* Uio nodes appearing, going, or changing owner or mode (K7). */
	tp->dev_wd = inotify_add_watch(tp->ino, tp->dev_root,
	                               IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM |
	                                   IN_ATTRIB | IN_ONLYDIR);
	if (tp->dev_wd < 0) {
		log_err("uio: watching %s: %s", tp->dev_root, strerror(errno));
		return -1;
	}
	/* Kernel uevents are the only change notification real sysfs gives
	 * (inotify sees nothing there); any other tree is an ordinary
	 * directory, where inotify sees every change. */
	tp->sysfs = statfs(tp->devices_dir, &sfs) == 0 && sfs.f_type == SYSFS_MAGIC_NUMBER;
	if (!tp->sysfs) {
		if (inotify_add_watch(tp->ino, tp->devices_dir, INOTIFY_DIR_MASK) < 0) {
			log_err("uio: watching %s: %s", tp->devices_dir, strerror(errno));
			return -1;
		}
		return 0;
	}
	tp->nl = open_uevent_socket();
	if (tp->nl < 0) {
		/* Some containers have no uevent socket: poll instead. */
		log_warn("uio: no kernel uevents (%s): rescanning %s every %d ms",
		         strerror(-tp->nl), tp->devices_dir, UIO_RESCAN_MS);
		tp->nl = -1;
		tp->periodic = true;
	}
	return 0;
}
