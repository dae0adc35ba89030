#include "sysfs.h"

#include "log.h"
#include "number.h"
#include "path.h"
#include "textfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A scan never keeps more entries than this; Linux numbers at most 2048
 * channels (drivers/hv/hyperv_vmbus.h MAX_CHANNEL_RELIDS). */
#define SCAN_MAX_DEVICES 4096

ssize_t md9_sysfs_read(int dirfd, const char *path, char *buf, size_t cap)
{
	return md9_textfile_read_into(dirfd, path, buf, cap);
}

int md9_sysfs_write(const char *path, const char *s)
{
	size_t len = strlen(s);
	ssize_t w;
	int fd, err = 0;

	/* No O_CREAT: a missing attribute is an error, never a new file. */
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	do {
		w = write(fd, s, len);
	} while (w < 0 && errno == EINTR);
	if (w < 0)
		err = -errno;
	else if ((size_t)w != len)
		err = -EIO;
	if (close(fd) < 0 && !err && errno != EINTR)
		err = -errno;
	return err;
}

int md9_sysfs_new_id(const char *driver_dir, const struct md9_guid *class_id)
{
	char text[MD9_GUID_STRLEN + 1], path[PATH_MAX];
	struct stat st;
	int err;

	if (stat(driver_dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return -ENOENT;
	if (md9_path_fmt(path, sizeof(path), "%s/new_id", driver_dir) < 0)
		return -ENAMETOOLONG;
	/* new_id takes the GUID as guid_parse reads it: 36 characters; a
	 * trailing newline is ignored [Linux drivers/hv/vmbus_drv.c
	 * new_id_store]. */
	md9_guid_format(class_id, text);
	strcat(text, "\n");
	err = md9_sysfs_write(path, text);
	/* EEXIST: the id is in the driver's dynamic id list already
	 * [new_id_store]; its devices are bound. */
	return err == -EEXIST ? 1 : err;
}

/* Length of s without one trailing newline; -1 if s has any other control
 * character or a second newline. */
static long body_len(const char *s)
{
	size_t n = strlen(s);

	if (n && s[n - 1] == '\n')
		n--;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return -1;
	return (long)n;
}

int md9_parse_dec_u32(const char *s, uint32_t max, uint32_t *out)
{
	long n = body_len(s);
	char body[12];
	uint64_t v;

	/* The kernel prints no leading zero ("%d"): one is not its output. */
	if (n <= 0 || (size_t)n >= sizeof(body) || (s[0] == '0' && n > 1))
		return -EINVAL;
	memcpy(body, s, (size_t)n);
	body[n] = '\0';
	if (md9_number_parse(body, 0, max, &v) < 0)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

int md9_parse_hex_u64(const char *s, uint64_t *out)
{
	long n = body_len(s);
	uint64_t v = 0;

	if (n < 3 || n > 18 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
		return -EINVAL;
	for (long i = 2; i < n; i++) {
		int d = md9_number_hexdigit(s[i]);

		if (d < 0)
			return -EINVAL;
		v = v << 4 | (uint64_t)d;
	}
	*out = v;
	return 0;
}

int md9_parse_sysfs_guid(const char *s, struct md9_guid *out)
{
	char inner[MD9_GUID_STRLEN];
	long n = body_len(s);

	/* 36 characters between the braces; md9_guid_parse checks their form. */
	if (n != 38 || s[0] != '{' || s[37] != '}')
		return -EINVAL;
	memcpy(inner, s + 1, 36);
	inner[36] = '\0';
	return md9_guid_parse(inner, out) == 0 ? 0 : -EINVAL;
}

static int read_attr(int devices_fd, const char *name, const char *attr, char *buf, size_t cap)
{
	char path[PATH_MAX];
	ssize_t r;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", name, attr) >= sizeof(path))
		return -ENAMETOOLONG;
	r = md9_sysfs_read(devices_fd, path, buf, cap);
	if (r == -EFBIG) {
		log_err("vmbus device %s: %s is too large", name, attr);
		return -EINVAL;
	}
	return r < 0 ? (int)r : 0;
}

static int malformed(const char *name, const char *attr, const char *text)
{
	int n = (int)strcspn(text, "\n");

	log_err("vmbus device %s: malformed %s '%.*s'", name, attr, n > 64 ? 64 : n, text);
	return -EINVAL;
}

int md9_sysfs_uio_index(int devdir_fd)
{
	struct dirent *e;
	DIR *d;
	int fd, idx = -ENOENT;

	fd = openat(devdir_fd, "uio", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		int err = -errno;

		close(fd);
		return err;
	}
	while ((e = readdir(d)) != NULL) {
		uint32_t n;

		if (strncmp(e->d_name, "uio", 3) != 0 ||
		    md9_parse_dec_u32(e->d_name + 3, INT32_MAX, &n) != 0)
			continue;
		/* A VMBus device has one uio node (uio_hv_generic registers one
		 * uio_info per device); the lowest wins if a tree says otherwise. */
		if (idx < 0 || (int)n < idx)
			idx = (int)n;
	}
	closedir(d);
	return idx;
}

static bool class_wanted(const struct md9_guid *c, const struct md9_guid *classes, size_t n)
{
	if (n == 0)
		return true;
	for (size_t i = 0; i < n; i++)
		if (md9_guid_eq(c, &classes[i]))
			return true;
	return false;
}

int md9_sysfs_read_dev(int devices_fd, const char *name, const struct md9_guid *classes,
                       size_t nclasses, struct md9_vmbus_dev *out)
{
	struct md9_guid g;
	char buf[128];
	uint32_t v;
	int err, dfd;

	memset(out, 0, sizeof(*out));
	if (strlen(name) >= sizeof(out->name))
		return -ENAMETOOLONG;
	strcpy(out->name, name);

	err = read_attr(devices_fd, name, "class_id", buf, sizeof(buf));
	if (err)
		return err;
	if (md9_parse_sysfs_guid(buf, &out->class_id))
		return malformed(name, "class_id", buf);
	if (!class_wanted(&out->class_id, classes, nclasses))
		return -ESRCH;

	err = read_attr(devices_fd, name, "device_id", buf, sizeof(buf));
	if (err)
		return err;
	if (md9_parse_sysfs_guid(buf, &out->instance))
		return malformed(name, "device_id", buf);
	/* Current kernels name the directory by the instance ("%pUl",
	 * vmbus_device_register); older ones "vmbus_N". */
	if (md9_guid_parse(name, &g) == 0 && !md9_guid_eq(&g, &out->instance))
		return malformed(name, "device_id (not the directory's name)", buf);

	/* vmbus_drv.c id_show prints the u32 child_relid with "%d". */
	err = read_attr(devices_fd, name, "id", buf, sizeof(buf));
	if (err)
		return err;
	if (md9_parse_dec_u32(buf, INT32_MAX, &out->relid))
		return malformed(name, "id", buf);

	err = read_attr(devices_fd, name, "monitor_id", buf, sizeof(buf));
	if (err == 0) {
		if (md9_parse_dec_u32(buf, MD9_VMBUS_MONITOR_IDS - 1, &v))
			return malformed(name, "monitor_id", buf);
		out->has_monitor = true;
		out->monitor_id = (uint8_t)v;
	} else if (err != -ENOENT) {
		return err;
	}

	dfd = openat(devices_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	err = md9_sysfs_uio_index(dfd);
	close(dfd);
	if (err >= 0)
		out->uio_index = err;
	else if (err == -ENOENT)
		out->uio_index = -1;
	else
		return err;
	return 0;
}

int md9_sysfs_scan(const char *devices_dir, const struct md9_guid *classes, size_t nclasses,
                   struct md9_vmbus_dev **out, size_t *n)
{
	struct md9_vmbus_dev *v = NULL;
	size_t len = 0, cap = 0;
	struct dirent *e;
	DIR *d;

	*out = NULL;
	*n = 0;
	d = opendir(devices_dir);
	if (!d)
		return -errno;
	while ((e = readdir(d)) != NULL) {
		struct md9_vmbus_dev dev;
		int err;

		if (e->d_name[0] == '.')
			continue;
		err = md9_sysfs_read_dev(dirfd(d), e->d_name, classes, nclasses, &dev);
		if (err == -ESRCH)
			continue;
		if (err) {
			/* -EINVAL was logged with its reason; anything else is a
			 * device appearing or going away under us. */
			if (err != -EINVAL)
				log_debug("vmbus device %s skipped: %s", e->d_name, strerror(-err));
			continue;
		}
		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct md9_vmbus_dev *nv;

			if (ncap > SCAN_MAX_DEVICES) {
				log_err("%s: more than %d devices, ignoring the rest", devices_dir,
				        SCAN_MAX_DEVICES);
				break;
			}
			nv = realloc(v, ncap * sizeof(*v));
			if (!nv) {
				free(v);
				closedir(d);
				return -ENOMEM;
			}
			v = nv;
			cap = ncap;
		}
		v[len++] = dev;
	}
	closedir(d);
	*out = v;
	*n = len;
	return 0;
}

void md9_kernel_release(const char *proc_root, char *buf, size_t cap)
{
	char path[PATH_MAX];
	ssize_t r = -ENOENT;

	if ((size_t)snprintf(path, sizeof(path), "%s/sys/kernel/osrelease", proc_root) <
	    sizeof(path))
		r = md9_sysfs_read(AT_FDCWD, path, buf, cap);
	if (r > 0)
		buf[strcspn(buf, "\n")] = '\0';
	if (r <= 0 || !buf[0] || body_len(buf) < 0)
		snprintf(buf, cap, "unknown");
}

int md9_parse_kernel_version(const char *release, unsigned *major, unsigned *minor)
{
	char *end;
	unsigned long a, b;

	if (release[0] < '0' || release[0] > '9')
		return -EINVAL;
	a = strtoul(release, &end, 10);
	if (*end != '.' || end[1] < '0' || end[1] > '9' || a > 1000)
		return -EINVAL;
	b = strtoul(end + 1, &end, 10);
	if (b > 1000)
		return -EINVAL;
	*major = (unsigned)a;
	*minor = (unsigned)b;
	return 0;
}

int md9_kernel_before(const char *release, unsigned major, unsigned minor)
{
	unsigned a, b;

	if (md9_parse_kernel_version(release, &a, &b))
		return -1;
	return a < major || (a == major && b < minor);
}
