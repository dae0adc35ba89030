/* Real Hyper-V: VMBus channels through the Linux uio_hv_generic driver
 * (protocol.md §6, docs/uio.md). This file holds the transport object: its
 * creation, its ops table and its destruction; the jobs live in the uio_*.c
 * files listed in uio_private.h, with the sources they cite.
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
 * Real kernels the transport copes with (docs/uio.md, "Kernel generations"):
 *  - K2: before 6.10, uio_hv_generic refuses channels without a monitor
 *    page at probe; the device stays unbound. A device of a bound class that
 *    is not ready UIO_WAIT_MS after it was first seen gets one warning line
 *    saying what is wrong and the fix (uio_watch.c).
 *  - K3: before the 2024-08 rescind fix the kernel keeps a rescinded device
 *    and reopening it fails with ENODEV. open() then reports it once, marks
 *    that (instance, relid) stale and reports it rescinded; a new relid or a
 *    new directory for the instance is a new offer (uio_rescind.c).
 *  - K4: channel memory may be freed at rescind: ack and signal report -EIO
 *    for every error a rescinded or unregistered uio device gives
 *    (uio_signal.c). */
#include "uio_private.h"

#include "log.h"
#include "path.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

static int uio_event_fd(struct md9_transport *t)
{
	return uio_tp_of(t)->epfd;
}

static void uio_destroy(struct md9_transport *t)
{
	struct uio_tp *tp;

	if (!t)
		return;
	tp = uio_tp_of(t);
	if (tp->epfd >= 0)
		close(tp->epfd);
	if (tp->nl >= 0)
		close(tp->nl);
	if (tp->ino >= 0)
		close(tp->ino);
	ev_timer_cancel(tp->loop, &tp->tmr);
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

/* Each op's prefix names the file that implements it. */
static const struct md9_transport_ops uio_ops = {
    .name = "uio",
    .bind_class = uio_class_bind,
    .event_fd = uio_event_fd,
    .poll_events = uio_discover_poll,
    .open = uio_device_open,
    .signal = uio_signal_host,
    .ack = uio_signal_ack,
    .close = uio_device_close,
    .destroy = uio_destroy,
};

static int watch_fd(struct uio_tp *tp, int fd)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};

	if (epoll_ctl(tp->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		log_err("uio: epoll: %s", strerror(errno));
		return -1;
	}
	return 0;
}

struct md9_transport *md9_transport_uio_new(const struct md9_roots *roots, struct ev_loop *loop)
{
	const char *sysfs_root = roots->sys;
	struct uio_tp *tp;
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
	tp->loop = loop;
	tp->epfd = tp->nl = tp->ino = tp->kick = tp->dev_wd = -1;
	tp->page = (size_t)page;
	tp->sysfs_root = strdup(sysfs_root);
	tp->dev_root = strdup(roots->dev);
	tp->proc_root = strdup(roots->proc);
	if (!tp->sysfs_root || !tp->dev_root || !tp->proc_root)
		goto fail;
	if (md9_path_fmt(tp->devices_dir, sizeof(tp->devices_dir), "%s/bus/vmbus/devices",
	                        sysfs_root) ||
	    md9_path_fmt(tp->driver_dir, sizeof(tp->driver_dir),
	                        "%s/bus/vmbus/drivers/uio_hv_generic", sysfs_root)) {
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
	tp->ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (tp->epfd < 0 || tp->kick < 0 || tp->ino < 0) {
		log_err("uio: %s", strerror(errno));
		goto fail;
	}
	if (watch_fd(tp, tp->kick) || watch_fd(tp, tp->ino))
		goto fail;
	if (uio_discover_init(tp))
		goto fail;
	if (tp->nl >= 0 && watch_fd(tp, tp->nl))
		goto fail;
	return &tp->base;

fail:
	uio_destroy(&tp->base);
	return NULL;
}
