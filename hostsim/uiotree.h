/* The files the emulated guest kernel (hostsim/uiokern.c) shows md9: a
 * sysfs tree as vmbus_drv.c and uio.c lay it out, device nodes as devtmpfs
 * and udev make them, the kernel log as /dev/kmsg prints it and the few
 * /proc files naming the kernel. Everything lives under one directory, the
 * DIR of `md9 run --root DIR` (src/roots.h):
 *
 *   DIR/sys/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0004:00/VMBUS:00/<guid>/
 *       class_id device_id id [monitor_id] modalias uevent [driver ->]
 *       uio/uioN/{name,version,dev,maps/mapM/{name,addr,size,offset}}
 *   DIR/sys/bus/vmbus/devices/<guid> -> ../../../devices/.../<guid>
 *   DIR/sys/bus/vmbus/drivers/uio_hv_generic/{new_id,bind,unbind,<guid> ->}
 *   DIR/sys/class/uio/uioN -> ../../devices/.../<guid>/uio/uioN
 *   DIR/dev/uioN  DIR/dev/kmsg
 *   DIR/proc/sys/kernel/osrelease  DIR/proc/version
 *   DIR/lib/modules/<release>/modules.dep
 *
 * sysfs shows a directory with all its attributes at once (they exist when
 * the uevent goes out), so each directory is built aside and renamed into
 * place in one step; inotify watchers (md9 on a tree that is not sysfs)
 * never see a half-made device. */
#ifndef HOSTSIM_UIOTREE_H
#define HOSTSIM_UIOTREE_H

#include "guid.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct uiotree {
	char root[PATH_MAX];
	char sys[PATH_MAX];
	char dev[PATH_MAX];
	char devices[PATH_MAX]; /* where device directories really are */
	char bus[PATH_MAX];     /* sys/bus/vmbus/devices */
	char drv[PATH_MAX];     /* sys/bus/vmbus/drivers/uio_hv_generic */
	char stage[PATH_MAX];   /* DIR/.stage: built here, renamed into place */
	char kmsg[PATH_MAX];
	unsigned stage_seq;
	uint64_t kmsg_seq;
};

struct uiotree_dev {
	const char *name; /* directory name: the instance, "%pUl" */
	struct md9_guid class_id, instance;
	uint32_t relid;
	bool monitored;
	uint8_t monitor_id;
};

/* Create the tree under root (an absolute, existing, empty directory).
 * 0 or -errno (logged). */
int uiotree_init(struct uiotree *t, const char *root, const char *osrelease);
/* vmbus_device_register: the device directory and its bus link. */
int uiotree_add_device(struct uiotree *t, const struct uiotree_dev *d);
/* device_unregister: bus link, then the directory. */
void uiotree_remove_device(struct uiotree *t, const char *name);
/* A successful hv_uio_probe: /dev/uioN (root 0600, as devtmpfs makes it),
 * uio/uioN with its maps, the driver links. sizes/addrs: maps 0-2. */
int uiotree_bind(struct uiotree *t, const char *name, int minor, const uint64_t sizes[3],
                 const uint64_t addrs[3]);
/* hv_uio_remove: the node, uio/uioN and the driver links go. */
void uiotree_unbind(struct uiotree *t, const char *name, int minor);
/* udev applies a rule's GROUP and MODE to /dev/uioN. */
int uiotree_udev(struct uiotree *t, int minor, gid_t gid, mode_t mode);
/* Append one record to the kernel log: level (3 err, 4 warning, ...), the
 * device it is about (NULL: none), the text. */
void uiotree_kmsg(struct uiotree *t, int level, const char *device, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
