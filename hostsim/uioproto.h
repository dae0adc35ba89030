/* The wire between md9-hostsim's emulated guest kernel (hostsim/uiokern.c)
 * and tests/uio/uioemu.c, the preload library that stands for that kernel
 * inside md9's process. Nothing of md9 sees it: md9 opens, reads, writes and
 * maps <dev>/uioN and writes new_id as on a real guest, and the preload
 * library turns those calls into the requests below.
 *
 * SOCK_SEQPACKET on the socket named by $MD9_UIO_KERNEL, one message per
 * packet, native endianness (both ends are on this machine).
 *
 * One connection per process for HELLO and NEW_ID. One connection per
 * open() of a device node: after UIOEMU_OPEN and its reply, that socket IS
 * the file descriptor md9 gets (see uioemu.c for why), the kernel writes one
 * UIOEMU_IRQ message per interrupt to it and never reads it again. */
#ifndef HOSTSIM_UIOPROTO_H
#define HOSTSIM_UIOPROTO_H

#include <stdint.h>

#define UIOEMU_ENV           "MD9_UIO_KERNEL"
#define UIOEMU_PROTO_VERSION 1
#define UIOEMU_PATH_MAX      1024
#define UIOEMU_NEW_ID_MAX    256

enum uioemu_type {
	UIOEMU_HELLO = 1,  /* -> struct uioemu_hello_reply */
	UIOEMU_NEW_ID = 2, /* a write() to new_id -> struct uioemu_status */
	UIOEMU_OPEN = 3,   /* open() of uio<minor> -> struct uioemu_open_reply + fds */
	UIOEMU_PIN = 4,    /* sent once after OPEN's reply, never read (uioemu.c) */
	UIOEMU_IRQ = 5,    /* kernel -> an open file: an interrupt (uio_event_notify) */
};

struct uioemu_req {
	uint32_t type;
	uint32_t version; /* HELLO */
	uint32_t minor;   /* OPEN */
	uint32_t len;     /* NEW_ID: bytes written (data holds the first ones) */
	char data[UIOEMU_NEW_ID_MAX];
};

struct uioemu_status {
	int32_t status; /* NEW_ID: the write's return value: count or -errno */
};

struct uioemu_hello_reply {
	int32_t status;
	uint32_t version;
	char sys[UIOEMU_PATH_MAX]; /* the tree's sysfs root (md9 --root DIR: DIR/sys) */
	char dev[UIOEMU_PATH_MAX]; /* its /dev */
};

/* Flags of an open file: what hv_uio_irqcontrol does on write(). */
#define UIOEMU_F_MASK_ON_WRITE   1u /* RX interrupt_mask = !value (before CVE-2025-40048) */
#define UIOEMU_F_SIGNAL_ON_WRITE 2u /* value != 0 signals the host (6.10+, no monitor) */

enum { UIOEMU_MAP_RING = 0, UIOEMU_MAP_INT = 1, UIOEMU_MAP_MON = 2, UIOEMU_MAPS = 3 };

/* fds after a successful OPEN, in this order. */
enum {
	UIOEMU_FD_RING = 0,     /* map 0: TX ring then RX ring */
	UIOEMU_FD_PAGES = 1,    /* maps 1 and 2, at pages_off[] */
	UIOEMU_FD_DOORBELL = 2, /* eventfd: the hypercall that signals the host */
	UIOEMU_FD_STATE = 3,    /* one page, struct uioemu_state, read-only */
	UIOEMU_NFDS = 4,
};

struct uioemu_open_reply {
	int32_t status; /* 0 or -errno (then no fds) */
	uint32_t flags; /* UIOEMU_F_* */
	uint64_t map_size[UIOEMU_MAPS];
	uint64_t pages_off[UIOEMU_MAPS]; /* offsets of maps 1, 2 in the pages fd */
	uint64_t rx_mask_off;            /* RX ring's interrupt_mask in map 0 */
};

/* The device's state as the kernel changes it; the preload library reads it
 * on every call, as uio.c reads idev->info and info->irq under info_lock. */
struct uioemu_state {
	uint32_t irq;  /* 0 after hv_uio_rescind (info->irq = 0) */
	uint32_t info; /* 0 once unregistered (uio_unregister_device: idev->info = NULL) */
	/* 1 once hv_uio_remove ran vmbus_free_ring (K4): the pages under md9's
	 * mapping of map 0 are gone. uioemu_table.c makes them fault from the
	 * moment md9 can know (see there). */
	uint32_t ring_freed;
};

struct uioemu_irq {
	uint32_t type; /* UIOEMU_IRQ */
	int32_t event; /* the device's event count after this interrupt */
};

#endif
