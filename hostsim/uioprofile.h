/* Kernel generations the emulated uio_hv_generic (hostsim/uiokern.c) can
 * behave as: one switch per behaviour that changed between them, each named
 * after the kernel fact it models (docs/uio.md, "The emulated kernel").
 * Selected per test with md9-hostsim --kernel NAME. */
#ifndef HOSTSIM_UIOPROFILE_H
#define HOSTSIM_UIOPROFILE_H

#include <stdbool.h>
#include <stddef.h>

struct uio_profile {
	const char *name;      /* --kernel NAME */
	const char *osrelease; /* <proc>/sys/kernel/osrelease */
	/* K2: hv_uio_probe refuses a channel without a monitor page with
	 * "vmbus channel requires hypercall" (-ENOTSUPP); lifted in 6.10 by
	 * "uio_hv_generic: Enable interrupt for low speed VMBus devices". */
	bool probe_needs_monitor;
	/* K6: hv_uio_irqcontrol signals the host (vmbus_setevent) on write()
	 * of a non-zero value for a channel without a monitor (same 6.10
	 * patch; before it every bound channel was monitored). */
	bool irqcontrol_signals;
	/* K3: hv_uio_rescind unregisters the device (vmbus_device_unregister),
	 * "Drivers: hv: vmbus: Fix rescind handling in uio_hv_generic",
	 * 2024-08, in 6.11. Before it the device stays, dead. */
	bool rescind_unregisters;
	/* K4: that unregistration runs hv_uio_remove -> vmbus_free_ring while
	 * user space still maps the ring (UIO_MEM_IOVA holds no page). */
	bool rescind_frees_ring;
	/* K5: hv_uio_open and hv_uio_channel_cb set the RX interrupt_mask,
	 * hv_uio_irqcontrol stores !value into it; removed by the
	 * CVE-2025-40048 fix (6.17.3, 6.12.53, 6.6.112, 6.1.156, ...). */
	bool kernel_masks;
	/* K8: bytes per ring direction, control page included. */
	size_t ring_size;
	const char *summary;
};

/* NULL when unknown. */
const struct uio_profile *uio_profile_find(const char *name);
/* "6.9, 6.10, ..." for usage texts. */
const char *uio_profile_names(void);

#endif
