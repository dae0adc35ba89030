/* The state of md9-hostsim's emulated guest kernel (uiokern.h), shared by
 * its parts: uiokern.c (setup, commands), uiokern_bus.c (the host's offers
 * and rescinds), uiokern_dev.c (VMBus devices, uio_hv_generic's probe,
 * bind and removal), uiokern_sock.c (the device node served over
 * kernel.sock) and uiokern_monitor.c (monitored channels, K6). */
#ifndef HOSTSIM_UIOKERN_STATE_H
#define HOSTSIM_UIOKERN_STATE_H

#include "uiokern.h"
#include "uioproto.h"
#include "uiotree.h"

#include <stdint.h>

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

/* uiokern_dev.c */
struct ukdev *uiokern_dev_by_sd(struct uiokern *k, const struct simdev *sd);
struct ukdev *uiokern_dev_by_instance(struct uiokern *k, const struct md9_guid *g);
struct ukdev *uiokern_dev_by_minor(struct uiokern *k, int minor);
/* The class was written to uio_hv_generic's new_id. */
bool uiokern_dev_class_bound(const struct uiokern *k, const struct md9_guid *c);
volatile uint32_t *uiokern_dev_rx_mask(struct ukdev *d);
/* The host rang the guest's doorbell (ev handler; arg: the ukdev). */
void uiokern_dev_irq(struct ev_handler *h, uint32_t events);
/* udev's rule on the device node, once. */
void uiokern_dev_udev(struct ukdev *d);
/* hv_uio_probe for a device whose class is bound. */
void uiokern_dev_probe(struct ukdev *d);
void uiokern_dev_file_free(struct ukfile *f);
/* Close every open file: their readers see the error. */
void uiokern_dev_close_files(struct ukdev *d);
/* hv_uio_release of the last open file: the channel closes. */
void uiokern_dev_release_last(struct ukdev *d);
/* vmbus_device_unregister: unbind, the directory goes, d is freed. */
void uiokern_dev_unregister(struct ukdev *d);

/* uiokern_monitor.c */
/* Start or stop the periodic scan of the monitor page. */
void uiokern_monitor_arm(struct uiokern *k, bool on);
/* The scan timer's handler (arg: the uiokern). */
void uiokern_monitor_scan(struct ev_handler *h, uint32_t events);

/* uiokern_sock.c */
/* The listener's handler (arg: the uiokern): a connection from uioemu.c. */
void uiokern_sock_accept(struct ev_handler *h, uint32_t events);
void uiokern_sock_conn_free(struct ukconn *c, bool close_sock);

#endif
