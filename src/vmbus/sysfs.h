/* Small, strict readers of the Linux sysfs files md9 uses to find VMBus
 * devices (docs/uio.md). Nothing read from sysfs is trusted: every file is
 * bounded in size and parsed in full, and anything not in the exact form the
 * kernel prints is rejected with -EINVAL.
 *
 * Formats (Linux drivers/hv/vmbus_drv.c, drivers/uio/uio.c):
 *  - class_id, device_id: "{%pUl}\n", a lower-case dashed GUID in braces;
 *  - id (the channel's relid), monitor_id: "%d\n";
 *  - monitor_id exists only when the channel uses a monitor
 *    (vmbus_dev_attr_is_visible hides it otherwise);
 *  - uio/uioN/maps/mapM/size: "%pa\n" (or "0x%lx\n" on old kernels), i.e. "0x"
 *    and hex digits. */
#ifndef MD9_SYSFS_H
#define MD9_SYSFS_H

#include "guid.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Largest attribute md9 reads; sysfs show() output is at most one page. */
#define MD9_SYSFS_ATTR_MAX 4096

/* Monitor ids index 4 trigger groups of 32 bits (include/linux/hyperv.h
 * struct hv_monitor_page, DPDK rte_vmbus_reg.h VMBUS_MONTRIGS_MAX). */
#define MD9_VMBUS_MONITOR_IDS 128

struct md9_vmbus_dev {
	char name[256]; /* directory name under bus/vmbus/devices */
	struct md9_guid instance;
	struct md9_guid class_id;
	uint32_t relid;
	bool has_monitor;
	uint8_t monitor_id; /* < MD9_VMBUS_MONITOR_IDS when has_monitor */
	int uio_index;      /* N of uio/uioN, -1 when not bound to a uio driver */
};

/* Read the file at `path` (relative to dirfd, or absolute with AT_FDCWD)
 * into buf, NUL-terminated. Returns its length, -EFBIG when it holds
 * cap - 1 bytes or more, or -errno. */
ssize_t md9_sysfs_read(int dirfd, const char *path, char *buf, size_t cap);
/* Store s with a single write(), as sysfs stores take one buffer per call.
 * Returns 0 or -errno (-EIO on a short write). */
int md9_sysfs_write(const char *path, const char *s);

/* Bind class_id to the driver at driver_dir (<sys>/bus/vmbus/drivers/
 * uio_hv_generic): one write of the GUID to its new_id. 0: bound now; 1: it
 * was bound already (EEXIST); -ENOENT: no such driver directory (the module
 * is not loaded); -errno. Logs nothing: the caller knows what it means. */
int md9_sysfs_new_id(const char *driver_dir, const struct md9_guid *class_id);

/* Whole-string parsers; one trailing '\n' is allowed. 0 or -EINVAL. */
/* Decimal without sign or leading zeros, <= max. */
int md9_parse_dec_u32(const char *s, uint32_t max, uint32_t *out);
/* "0x" then 1 to 16 hex digits. */
int md9_parse_hex_u64(const char *s, uint64_t *out);
/* "{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}". */
int md9_parse_sysfs_guid(const char *s, struct md9_guid *out);

/* Read one device directory `name` under the devices directory devices_fd.
 * When nclasses > 0 and its class is not among classes, returns -ESRCH
 * after reading class_id only. -EINVAL: a file is malformed; -ENOENT or
 * -ENODEV: the device is going away or not complete (sysfs race). */
int md9_sysfs_read_dev(int devices_fd, const char *name, const struct md9_guid *classes,
                       size_t nclasses, struct md9_vmbus_dev *out);
/* The N of `<devdir>/uio/uioN`, -ENOENT when there is none. */
int md9_sysfs_uio_index(int devdir_fd);
/* The running kernel's release ("6.1.0-31-amd64") from
 * <proc_root>/sys/kernel/osrelease, trimmed; "unknown" when unreadable. */
void md9_kernel_release(const char *proc_root, char *buf, size_t cap);
/* Its leading "MAJOR.MINOR": 0, or -EINVAL when it does not start so. */
int md9_parse_kernel_version(const char *release, unsigned *major, unsigned *minor);
/* 1 when release is older than major.minor, 0 when not, -1 when unknown. */
int md9_kernel_before(const char *release, unsigned major, unsigned minor);

/* Read every device under devices_dir whose class is among classes (all when
 * nclasses is 0). Devices that cannot be read are skipped (logged). *out is
 * malloc'ed (NULL when *n is 0). 0 or -errno when the directory itself cannot
 * be read. */
int md9_sysfs_scan(const char *devices_dir, const struct md9_guid *classes, size_t nclasses,
                   struct md9_vmbus_dev **out, size_t *n);

#endif
