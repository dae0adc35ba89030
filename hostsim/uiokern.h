/* md9-hostsim's emulated guest kernel: the VMBus bus driver's sysfs side,
 * uio_hv_generic and the uio core, devtmpfs and udev, as md9's uio transport
 * (src/vmbus/transport_uio.c, uio_*.c) meets them on a real guest, so that `md9 run
 * --transport uio --root DIR` runs md9's production code against the
 * simulated host (docs/uio.md, "The emulated kernel").
 *
 * It is the guest side of the simbus (simbus_new_guest): every device the
 * host offers is registered in the tree (hostsim/uiotree.c); a class written
 * to new_id is probed as hv_uio_probe does under the selected kernel profile
 * (hostsim/uioprofile.c); the device node's open, read, write and mmap are
 * served to md9 through tests/uio/uioemu.c over the socket DIR/kernel.sock
 * (hostsim/uioproto.h); the host's rescind runs hv_uio_rescind as the
 * profile's kernel does.
 *
 * Sources, all public Linux: drivers/uio/uio_hv_generic.c (hv_uio_probe,
 * hv_uio_open, hv_uio_release, hv_uio_irqcontrol, hv_uio_channel_cb,
 * hv_uio_rescind, hv_uio_remove), drivers/uio/uio.c (uio_open, uio_read,
 * uio_write, uio_poll, uio_mmap, uio_get_minor), drivers/hv/vmbus_drv.c
 * (new_id_store, the device attributes), drivers/hv/channel_mgmt.c
 * (vmbus_onoffer_rescind), drivers/hv/channel.c (vmbus_setevent). */
#ifndef HOSTSIM_UIOKERN_H
#define HOSTSIM_UIOKERN_H

#include "evloop.h"
#include "hostctl.h"
#include "simbus.h"
#include "uioprofile.h"

#include <stdbool.h>
#include <sys/types.h>

struct uiokern_opts {
	const char *root; /* the tree's directory: md9 run --root root */
	const struct uio_profile *profile;
	/* The host gives every channel a monitor page (monitor_id), K6. */
	bool monitored;
	/* udev applies the node's GROUP/MODE only on the "udev" command (K7);
	 * otherwise right after devtmpfs created the node root 0600. */
	bool udev_manual;
	gid_t udev_gid;
	mode_t udev_mode;
};

struct uiokern;

struct uiokern *uiokern_new(struct ev_loop *loop, const struct uiokern_opts *o);
/* The simbus whose guest this kernel is (after uiokern_new). */
struct simbus *uiokern_bus(struct uiokern *k, size_t ring_size);
/* After simbus_free of that bus. */
void uiokern_free(struct uiokern *k);
/* Commands (md9-hostsim --commands): 1 handled, 0 not ours, -1 bad
 * arguments (logged).
 *   udev                       apply the rule to the nodes waiting for it
 *   rescind-unread GUID|last   the host puts one packet in the data
 *                              channel's RX ring without an interrupt, then
 *                              rescinds it (the guest must not read it, K4)
 *   uio-status                 "uio dev GUID minor=N relid=R bound=0|1
 *                              dead=0|1 open=K monitored=0|1" lines on
 *                              standard output, then "uio end" */
int uiokern_command(struct uiokern *k, struct hostctl *ctl, const char *line);

#endif
