#include "uiotree.h"

#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Where Hyper-V guests have the VMBus device in the ACPI tree; sysfs names
 * a vmbus device's directory after it and links it from bus/vmbus/devices. */
#define VMBUS_PARENT "devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0004:00/VMBUS:00"
/* uio's character major is dynamic (uio.c uio_major_init: register_chrdev
 * with 0); any value stands for it in the tree's text files. */
#define UIO_MAJOR 240

static int pathf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int pathf(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(buf, n, fmt, ap);
	va_end(ap);
	return r < 0 || (size_t)r >= n ? -ENAMETOOLONG : 0;
}

static int mkdirs(const char *path, mode_t mode)
{
	char p[PATH_MAX];

	if (pathf(p, sizeof(p), "%s", path))
		return -ENAMETOOLONG;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return -errno;
	return chmod(p, mode) < 0 ? -errno : 0;
}

/* A file with this content and mode (whatever the umask). */
static int put(const char *dir, const char *rel, mode_t mode, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int put(const char *dir, const char *rel, mode_t mode, const char *fmt, ...)
{
	char path[PATH_MAX], text[512];
	va_list ap;
	ssize_t w;
	int fd, n, err = 0;

	if (pathf(path, sizeof(path), "%s/%s", dir, rel))
		return -ENAMETOOLONG;
	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(text))
		return -EINVAL;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	w = write(fd, text, (size_t)n);
	if (w < 0 || fchmod(fd, mode) < 0)
		err = -errno;
	else if (w != n)
		err = -EIO;
	close(fd);
	return err;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if ((flag == FTW_DP ? rmdir(path) : unlink(path)) < 0)
		log_warn("hostsim uio: removing %s: %s", path, strerror(errno));
	return 0;
}

static void rm_tree(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh empty directory under the staging area. */
static int stage_dir(struct uiotree *t, char *out, size_t n)
{
	if (pathf(out, n, "%s/%u", t->stage, t->stage_seq++))
		return -ENAMETOOLONG;
	return mkdir(out, 0755) < 0 ? -errno : 0;
}

/* Move a staged directory into place in one step. */
static int commit_dir(const char *staged, const char *dst)
{
	if (rename(staged, dst) < 0) {
		int err = -errno;

		log_err("hostsim uio: rename %s -> %s: %s", staged, dst, strerror(errno));
		rm_tree(staged);
		return err;
	}
	return 0;
}

/* Take a directory out of the tree in one step, then delete it. */
static void drop_dir(struct uiotree *t, const char *path)
{
	char tmp[PATH_MAX];

	if (pathf(tmp, sizeof(tmp), "%s/%u", t->stage, t->stage_seq++) == 0 &&
	    rename(path, tmp) == 0) {
		rm_tree(tmp);
		return;
	}
	if (errno != ENOENT)
		log_warn("hostsim uio: removing %s: %s", path, strerror(errno));
}

int uiotree_init(struct uiotree *t, const char *root, const char *osrelease)
{
	char p[PATH_MAX];
	int err;

	memset(t, 0, sizeof(*t));
	if (root[0] != '/' || pathf(t->root, sizeof(t->root), "%s", root) ||
	    pathf(t->sys, sizeof(t->sys), "%s/sys", root) ||
	    pathf(t->dev, sizeof(t->dev), "%s/dev", root) ||
	    pathf(t->devices, sizeof(t->devices), "%s/%s", t->sys, VMBUS_PARENT) ||
	    pathf(t->bus, sizeof(t->bus), "%s/bus/vmbus/devices", t->sys) ||
	    pathf(t->drv, sizeof(t->drv), "%s/bus/vmbus/drivers/uio_hv_generic", t->sys) ||
	    pathf(t->stage, sizeof(t->stage), "%s/.stage", root) ||
	    pathf(t->kmsg, sizeof(t->kmsg), "%s/kmsg", t->dev)) {
		log_err("hostsim uio: --uio-root must be an absolute path of at most %d bytes",
		        PATH_MAX - 128);
		return -EINVAL;
	}
	/* The tree is read by md9 after it dropped its privileges: every
	 * directory is world-searchable, as in sysfs. */
#define TRY(x)                                                                                     \
	do {                                                                                       \
		if ((err = (x)) != 0)                                                              \
			goto fail;                                                                 \
	} while (0)
	TRY(chmod(root, 0755) < 0 ? -errno : 0);
	TRY(mkdirs(t->devices, 0755));
	TRY(mkdirs(t->bus, 0755));
	TRY(mkdirs(t->drv, 0755));
	TRY(mkdirs(t->stage, 0700));
	TRY(mkdirs(t->dev, 0755));
	TRY(pathf(p, sizeof(p), "%s/class/uio", t->sys));
	TRY(mkdirs(p, 0755));
	TRY(pathf(p, sizeof(p), "%s/proc/sys/kernel", root));
	TRY(mkdirs(p, 0755));
	TRY(put(p, "osrelease", 0444, "%s\n", osrelease));
	TRY(pathf(p, sizeof(p), "%s/proc", root));
	TRY(put(p, "version", 0444,
	        "Linux version %s (md9-hostsim emulated uio_hv_generic) #1 SMP\n", osrelease));
	TRY(pathf(p, sizeof(p), "%s/lib/modules/%s", root, osrelease));
	TRY(mkdirs(p, 0755));
	TRY(put(p, "modules.dep", 0444,
	        "kernel/drivers/uio/uio_hv_generic.ko.xz: kernel/drivers/uio/uio.ko.xz "
	        "kernel/drivers/hv/hv_vmbus.ko.xz\n"
	        "kernel/drivers/uio/uio.ko.xz:\nkernel/drivers/hv/hv_vmbus.ko.xz:\n"));
	TRY(pathf(p, sizeof(p), "%s/etc", root));
	TRY(mkdirs(p, 0755));
	TRY(pathf(p, sizeof(p), "%s/run", root));
	TRY(mkdirs(p, 0755));
	/* Driver attributes: write-only for root (vmbus_drv.c DRIVER_ATTR_WO). */
	TRY(put(t->drv, "new_id", 0200, "%s", ""));
	TRY(put(t->drv, "remove_id", 0200, "%s", ""));
	TRY(put(t->drv, "bind", 0200, "%s", ""));
	TRY(put(t->drv, "unbind", 0200, "%s", ""));
	/* /dev/kmsg: readable by root only, as with dmesg_restrict=1 (the
	 * Debian and Ubuntu default). */
	TRY(put(t->dev, "kmsg", 0600, "%s", ""));
#undef TRY
	return 0;
fail:
	log_err("hostsim uio: cannot create the tree under %s: %s", root, strerror(-err));
	return err;
}

int uiotree_add_device(struct uiotree *t, const struct uiotree_dev *d)
{
	char stage[PATH_MAX], dst[PATH_MAX], link[PATH_MAX], target[PATH_MAX], cls[MD9_GUID_STRLEN],
	    inst[MD9_GUID_STRLEN], alias[33];
	int err;

	md9_guid_format(&d->class_id, cls);
	md9_guid_format(&d->instance, inst);
	/* modalias: "vmbus:" and the class GUID's 16 bytes in hex, as stored
	 * (vmbus_drv.c modalias_show: "vmbus:%*phN"). */
	for (int i = 0; i < 16; i++)
		snprintf(alias + 2 * i, 3, "%02x", d->class_id.b[i]);
	err = stage_dir(t, stage, sizeof(stage));
	if (err)
		return err;
	/* vmbus_drv.c: class_id_show, device_id_show "{%pUl}\n"; id_show
	 * "%d\n" (child_relid); monitor_id_show "%d\n", visible only when the
	 * host allocated a monitor (vmbus_dev_attr_is_visible). */
	if ((err = put(stage, "class_id", 0444, "{%s}\n", cls)) ||
	    (err = put(stage, "device_id", 0444, "{%s}\n", inst)) ||
	    (err = put(stage, "id", 0444, "%u\n", d->relid)) ||
	    (err = put(stage, "modalias", 0444, "vmbus:%s\n", alias)) ||
	    (err = put(stage, "uevent", 0444, "MODALIAS=vmbus:%s\n", alias)) ||
	    (d->monitored && (err = put(stage, "monitor_id", 0444, "%u\n", d->monitor_id)))) {
		rm_tree(stage);
		return err;
	}
	if (pathf(dst, sizeof(dst), "%s/%s", t->devices, d->name) ||
	    pathf(link, sizeof(link), "%s/%s", t->bus, d->name)) {
		rm_tree(stage);
		return -ENAMETOOLONG;
	}
	err = commit_dir(stage, dst);
	if (err)
		return err;
	/* bus_add_device: sysfs_create_link(&bus->devices_kset->kobj, ...). */
	if (pathf(target, sizeof(target), "../../../%s/%s", VMBUS_PARENT, d->name)) {
		drop_dir(t, dst);
		return -ENAMETOOLONG;
	}
	if (symlink(target, link) < 0) {
		err = -errno;
		log_err("hostsim uio: symlink %s: %s", link, strerror(errno));
		drop_dir(t, dst);
		return err;
	}
	return 0;
}

void uiotree_remove_device(struct uiotree *t, const char *name)
{
	char p[PATH_MAX];

	/* device_del: bus_remove_device drops the bus link first, then the
	 * directory goes with its kobject. */
	if (pathf(p, sizeof(p), "%s/%s", t->bus, name) == 0 && unlink(p) < 0 && errno != ENOENT)
		log_warn("hostsim uio: unlink %s: %s", p, strerror(errno));
	if (pathf(p, sizeof(p), "%s/%s", t->devices, name) == 0)
		drop_dir(t, p);
}

int uiotree_bind(struct uiotree *t, const char *name, int minor, const uint64_t sizes[3],
                 const uint64_t addrs[3])
{
	/* hv_uio_probe's three maps (uio_hv_generic.c enum hv_uio_map). */
	static const char *const map_names[3] = {"txrx_rings", "int_page", "monitor_page"};
	char stage[PATH_MAX], uio[PATH_MAX], maps[PATH_MAX], m[PATH_MAX], p[PATH_MAX],
	    target[PATH_MAX];
	int err;

	/* devtmpfs makes the node when the uio device is added: root, 0600
	 * (drivers/base/devtmpfs.c; udev applies rules later, K7). */
	if (pathf(p, sizeof(p), "%s/uio%d", t->dev, minor))
		return -ENAMETOOLONG;
	err = put(t->dev, p + strlen(t->dev) + 1, 0600, "%s", "");
	if (err)
		return err;

	err = stage_dir(t, stage, sizeof(stage));
	if (err)
		return err;
	if (pathf(uio, sizeof(uio), "%s/uio%d", stage, minor) || mkdir(uio, 0755) < 0 ||
	    pathf(maps, sizeof(maps), "%s/maps", uio) || mkdir(maps, 0755) < 0) {
		err = -errno ? -errno : -ENAMETOOLONG;
		rm_tree(stage);
		return err;
	}
	/* uio.c: name_show, version_show; dev (MAJ:MIN) from the driver core. */
	if ((err = put(uio, "name", 0444, "uio_hv_generic\n")) ||
	    (err = put(uio, "version", 0444, "0.02.1\n")) ||
	    (err = put(uio, "dev", 0444, "%d:%d\n", UIO_MAJOR, minor))) {
		rm_tree(stage);
		return err;
	}
	for (int i = 0; i < 3; i++) {
		/* uio.c map_name_show "%s\n", map_addr_show and map_size_show
		 * "%pa\n" (0x and 16 hex digits on 64-bit), map_offset_show
		 * "0x%llx\n". */
		if ((err = pathf(m, sizeof(m), "%s/map%d", maps, i)) ||
		    (mkdir(m, 0755) < 0 && (err = -errno)) ||
		    (err = put(m, "name", 0444, "%s\n", map_names[i])) ||
		    (err = put(m, "addr", 0444, "0x%016llx\n", (unsigned long long)addrs[i])) ||
		    (err = put(m, "size", 0444, "0x%016llx\n", (unsigned long long)sizes[i])) ||
		    (err = put(m, "offset", 0444, "0x0\n"))) {
			rm_tree(stage);
			return err;
		}
	}
	if (pathf(p, sizeof(p), "%s/%s/uio", t->devices, name)) {
		rm_tree(stage);
		return -ENAMETOOLONG;
	}
	err = commit_dir(stage, p);
	if (err)
		return err;

	/* driver_sysfs_add: <dev>/driver -> the driver, the driver -> <dev>;
	 * the uio class link. */
	if (pathf(p, sizeof(p), "%s/%s/driver", t->devices, name) == 0)
		(void)!symlink("../../../../../bus/vmbus/drivers/uio_hv_generic", p);
	if (pathf(p, sizeof(p), "%s/%s", t->drv, name) == 0 &&
	    pathf(target, sizeof(target), "../../../../%s/%s", VMBUS_PARENT, name) == 0)
		(void)!symlink(target, p);
	if (pathf(p, sizeof(p), "%s/class/uio/uio%d", t->sys, minor) == 0 &&
	    pathf(target, sizeof(target), "../../%s/%s/uio/uio%d", VMBUS_PARENT, name, minor) == 0)
		(void)!symlink(target, p);
	return 0;
}

void uiotree_unbind(struct uiotree *t, const char *name, int minor)
{
	char p[PATH_MAX];

	/* uio_unregister_device: device_destroy removes the node (devtmpfs)
	 * and uio/uioN; then the driver core drops the driver links. */
	if (pathf(p, sizeof(p), "%s/uio%d", t->dev, minor) == 0 && unlink(p) < 0 && errno != ENOENT)
		log_warn("hostsim uio: unlink %s: %s", p, strerror(errno));
	if (pathf(p, sizeof(p), "%s/class/uio/uio%d", t->sys, minor) == 0)
		unlink(p);
	if (pathf(p, sizeof(p), "%s/%s/uio", t->devices, name) == 0)
		drop_dir(t, p);
	if (pathf(p, sizeof(p), "%s/%s/driver", t->devices, name) == 0)
		unlink(p);
	if (pathf(p, sizeof(p), "%s/%s", t->drv, name) == 0)
		unlink(p);
}

int uiotree_udev(struct uiotree *t, int minor, gid_t gid, mode_t mode)
{
	char p[PATH_MAX];

	if (pathf(p, sizeof(p), "%s/uio%d", t->dev, minor))
		return -ENAMETOOLONG;
	/* udev's rule: OWNER stays root, GROUP, then MODE. */
	if (chown(p, 0, gid) < 0 && errno != EPERM)
		return -errno;
	if (chmod(p, mode) < 0)
		return -errno;
	return 0;
}

void uiotree_kmsg(struct uiotree *t, int level, const char *device, const char *fmt, ...)
{
	char text[512], rec[1024];
	struct timespec ts;
	va_list ap;
	int fd, n;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	/* /dev/kmsg records (Documentation/ABI/testing/dev-kmsg):
	 * "prio,seq,usec,flags;text\n", then " KEY=value\n" lines for the
	 * device a dev_printk names. */
	n = snprintf(
	    rec, sizeof(rec), "%d,%llu,%llu,-;%s\n", level, (unsigned long long)t->kmsg_seq++,
	    (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000,
	    text);
	if (device && n > 0 && (size_t)n < sizeof(rec))
		n += snprintf(rec + n, sizeof(rec) - (size_t)n,
		              " SUBSYSTEM=vmbus\n DEVICE=+vmbus:%s\n", device);
	if (n <= 0 || (size_t)n >= sizeof(rec))
		return;
	fd = open(t->kmsg, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0 || write(fd, rec, (size_t)n) != n)
		log_warn("hostsim uio: kernel log %s: %s", t->kmsg, strerror(errno));
	if (fd >= 0)
		close(fd);
	log_info("hostsim uio: kernel: %s", text);
}
