/* K3: a kernel without the 2024-08 rescind fix (P-rescind in docs/uio.md)
 * keeps the rescinded device; its first open() then fails with ENODEV
 * (vmbus_open on a rescinded channel). Said once per (instance, relid); the
 * device is reported rescinded by the next poll_events and offered again
 * only under a new relid or a new directory. This file keeps the list of
 * such stale devices. */
#include "uio_private.h"

#include "log.h"

#include <stdio.h>
#include <stdlib.h>

bool uio_rescind_is_stale(const struct uio_tp *tp, const struct md9_vmbus_dev *dev)
{
	for (size_t i = 0; i < tp->nstale; i++)
		if (md9_guid_eq(&tp->stale[i].instance, &dev->instance) &&
		    tp->stale[i].relid == dev->relid)
			return true;
	return false;
}

void uio_rescind_prune(struct uio_tp *tp, const struct md9_vmbus_dev *devs, size_t ndevs)
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

void uio_rescind_kept(struct uio_tp *tp, const struct md9_vmbus_dev *dev, const char *path)
{
	char rel[128];
	struct uio_stale *ns;

	snprintf(tp->base.why, sizeof(tp->base.why),
	         "the kernel kept it after the host rescinded it and it cannot be reopened");
	if (uio_rescind_is_stale(tp, dev))
		return;
	ns = realloc(tp->stale, (tp->nstale + 1) * sizeof(*ns));
	if (!ns)
		return;
	tp->stale = ns;
	tp->stale[tp->nstale++] = (struct uio_stale){dev->instance, dev->relid};
	md9_kernel_release(tp->proc_root, rel, sizeof(rel));
	log_warn("vmbus device %s (%s): reopening %s fails (ENODEV): the host rescinded this "
	         "channel and the kernel (%s) kept the device instead of removing it, so the "
	         "host's next offer of it never arrives: it stays lost until a reboot. Fix: a "
	         "kernel with \"Drivers: hv: vmbus: Fix rescind handling in uio_hv_generic\" "
	         "(2024-08, also in stable updates)",
	         dev->name, uio_class_name(&dev->class_id), path, rel);
	uio_tp_kick(tp);
}
