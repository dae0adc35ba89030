/* The not-ready watchdog: "never wait silently". A device of a bound class
 * that is still not ready UIO_WAIT_MS after md9 first saw it gets one
 * warning line saying what is wrong and the fix (K2 and friends, docs/uio.md
 * "Kernel generations"); the discovery arms its timer for the next such
 * deadline. */
#include "uio_private.h"

#include "path.h"

#include "log.h"
#include "timespec.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A device of a bound class not ready this long after it was first seen is
 * reported once. */
#define UIO_WAIT_MS 3000

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
	const char *what = uio_class_name(&dev->class_id);
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

long uio_watch_update(struct uio_tp *tp, const struct md9_vmbus_dev *devs, const char *const *why,
                      size_t ndevs)
{
	struct timespec now = timespec_now();
	struct uio_waiting *w = NULL;
	size_t nw = 0;
	long next = -1;

	if (ndevs)
		w = calloc(ndevs, sizeof(*w));
	for (size_t i = 0; w && i < ndevs; i++) {
		const struct uio_waiting *old = NULL;

		if (!why[i])
			continue;
		for (size_t k = 0; k < tp->nwaiting; k++)
			if (md9_guid_eq(&tp->waiting[k].dev.instance, &devs[i].instance) &&
			    tp->waiting[k].dev.relid == devs[i].relid)
				old = &tp->waiting[k];
		w[nw].dev = devs[i];
		w[nw].since = old ? old->since : now;
		w[nw].warned = old && old->warned;
		if (!w[nw].warned && (long)timespec_diff_ms(&w[nw].since, &now) >= UIO_WAIT_MS) {
			warn_not_ready(tp, &devs[i], why[i]);
			w[nw].warned = true;
		}
		if (!w[nw].warned) {
			long left = UIO_WAIT_MS - (long)timespec_diff_ms(&w[nw].since, &now);

			if (next < 0 || left < next)
				next = left;
		}
		nw++;
	}
	free(tp->waiting);
	tp->waiting = w;
	tp->nwaiting = nw;
	return next;
}
