/* The uio_hv_generic transport (src/vmbus/transport_uio.c and uio_*.c,
 * src/vmbus/sysfs.c) on a fake sysfs and /dev tree built in a temporary
 * directory <root>, reached the way `md9 --roots <root>` reaches it
 * (md9_roots_under):
 *
 *   <root>/sys/bus/vmbus/drivers/uio_hv_generic/new_id   regular file
 *   <root>/sys/devices/<name>/{class_id,device_id,id,monitor_id,uio/uioN/maps/mapM/size,driver}
 *   <root>/sys/bus/vmbus/devices/<name> -> ../../../devices/<name>
 *   <root>/dev/uioN                                       regular file standing in for the device
 *
 * As in real sysfs, a device directory and its uio/ subtree appear complete
 * (built aside, then linked or renamed into place). mmap offset M * page of
 * the fake device file is map M, so maps 1 and 2 alias the file's bytes at
 * page and 2 * page; the tests account for that.
 *
 * new_id is a plain file here: what the kernel answers to a write (EEXIST for
 * a class already bound) is the emulated driver's to show (tests/uio). */
#include "evloop.h"
#include "guid.h"
#include "log.h"
#include "ring.h"
#include "roots.h"
#include "sysfs.h"
#include "timespec.h"
#include "transport.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define CONTROL_CLASS "f8e65716-3cb3-4a06-9a60-1889c5cccab5"
#define CONTROL_INST  "99221fa0-24ad-11e2-be98-001aa01bbf6e"
#define DATA_CLASS    "f9e9c0d3-b511-4a48-8046-d38079a8830c"
#define DATA_INST1    "99221fa1-24ad-11e2-be98-001aa01bbf6e"
#define DATA_INST3    "99221fa3-24ad-11e2-be98-001aa01bbf6e"
#define DATA_INST4    "99221fa4-24ad-11e2-be98-001aa01bbf6e"
#define OLD_KERNEL    "6.1.0-99-amd64"
#define NETVSC_CLASS  "f8615163-df3e-46c5-913f-f2d2f965ed0e"
#define NETVSC_INST   "0b1e5e9c-34a5-4c3e-9b0e-2b3d6a1c7f00"

/* ---- fake tree ---- */

struct fake {
	struct md9_roots roots;
	char root[PATH_MAX];
	char sys[PATH_MAX];
	char dev[PATH_MAX];
	size_t page;
	struct md9_transport *tp;
	/* The loop the transport's timer runs in, as md9's daemon loop is;
	 * tp_h watches its event_fd and sets ready. */
	struct ev_loop *loop;
	struct ev_handler tp_h;
	bool ready;
};

struct evlog {
	int n;
	struct md9_dev_event ev[16];
};

static void collect(void *arg, const struct md9_dev_event *e)
{
	struct evlog *l = arg;

	assert_true(l->n < 16);
	l->ev[l->n++] = *e;
}

static const char *pth(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const char *pth(char *buf, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, PATH_MAX, fmt, ap);
	va_end(ap);
	assert_true(n > 0 && n < PATH_MAX);
	return buf;
}

static void put(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(close(fd), 0);
}

static void mkdirs(const char *path)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		assert_true(mkdir(buf, 0755) == 0 || errno == EEXIST);
		*p = '/';
	}
	assert_true(mkdir(buf, 0755) == 0 || errno == EEXIST);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static void rm_rf(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static struct md9_guid guid(const char *text)
{
	struct md9_guid g;

	assert_int_equal(md9_guid_parse(text, &g), 0);
	return g;
}

/* A device directory with these file contents (NULL monitor_id: no such
 * file), linked into bus/vmbus/devices in one step. */
static void add_device_raw(struct fake *f, const char *name, const char *class_file,
                           const char *inst_file, const char *relid, const char *monitor_id)
{
	char p[PATH_MAX], q[PATH_MAX];

	mkdirs(pth(p, "%s/devices/%s", f->sys, name));
	put(pth(p, "%s/devices/%s/class_id", f->sys, name), class_file);
	put(pth(p, "%s/devices/%s/device_id", f->sys, name), inst_file);
	put(pth(p, "%s/devices/%s/id", f->sys, name), relid);
	if (monitor_id)
		put(pth(p, "%s/devices/%s/monitor_id", f->sys, name), monitor_id);
	assert_int_equal(symlink(pth(q, "../../../devices/%s", name),
	                         pth(p, "%s/bus/vmbus/devices/%s", f->sys, name)),
	                 0);
}

static void add_device(struct fake *f, const char *name, const char *cls, const char *inst,
                       const char *relid, const char *monitor_id)
{
	char c[64], i[64], r[16], m[16];

	snprintf(c, sizeof(c), "{%s}\n", cls);
	snprintf(i, sizeof(i), "{%s}\n", inst);
	snprintf(r, sizeof(r), "%s\n", relid);
	if (monitor_id)
		snprintf(m, sizeof(m), "%s\n", monitor_id);
	add_device_raw(f, name, c, i, r, monitor_id ? m : NULL);
}

static void remove_device(struct fake *f, const char *name)
{
	char p[PATH_MAX];

	assert_int_equal(unlink(pth(p, "%s/bus/vmbus/devices/%s", f->sys, name)), 0);
	rm_rf(pth(p, "%s/devices/%s", f->sys, name));
}

/* Bind `name` to uio: /dev/uioN (a file of dev_bytes zero bytes), then the
 * uio/uioN/maps subtree renamed into the device directory. sizes[M] is the
 * text of maps/mapM/size, NULL for no such map. */
static void add_uio(struct fake *f, const char *name, int idx, const char *const sizes[3],
                    size_t dev_bytes)
{
	char p[PATH_MAX], q[PATH_MAX];
	int fd;

	fd = open(pth(p, "%s/uio%d", f->dev, idx), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)dev_bytes), 0);
	close(fd);

	rm_rf(pth(p, "%s/stage", f->root));
	for (int m = 0; m < 3; m++) {
		if (!sizes[m])
			continue;
		mkdirs(pth(p, "%s/stage/uio/uio%d/maps/map%d", f->root, idx, m));
		put(pth(p, "%s/stage/uio/uio%d/maps/map%d/size", f->root, idx, m), sizes[m]);
	}
	mkdirs(pth(p, "%s/stage/uio/uio%d", f->root, idx));
	assert_int_equal(symlink("../../../bus/vmbus/drivers/uio_hv_generic",
	                         pth(p, "%s/devices/%s/driver", f->sys, name)),
	                 0);
	assert_int_equal(
	    rename(pth(p, "%s/stage/uio", f->root), pth(q, "%s/devices/%s/uio", f->sys, name)), 0);
}

/* Ring map of 6 pages: per direction one control page and 2 data pages. */
static void add_uio_std(struct fake *f, const char *name, int idx)
{
	char s0[32];
	const char *sizes[3] = {s0, NULL, NULL};

	snprintf(s0, sizeof(s0), "0x%016zx\n", 6 * f->page);
	add_uio(f, name, idx, sizes, 6 * f->page);
}

static void add_ready(struct fake *f, const char *name, const char *cls, const char *inst,
                      const char *relid, int idx)
{
	add_device(f, name, cls, inst, relid, NULL);
	add_uio_std(f, name, idx);
}

static void on_event_fd(struct ev_handler *h, uint32_t events)
{
	struct fake *f = h->arg;

	(void)events;
	f->ready = true;
}

/* Does event_fd become readable within timeout_ms? The loop runs meanwhile,
 * so an expired transport timer counts: it makes event_fd readable in the
 * round after it ran. */
static bool readable(struct fake *f, int timeout_ms)
{
	struct timespec end = timespec_in_ms((unsigned)timeout_ms), now;
	long long left = timeout_ms;

	f->ready = false;
	for (;;) {
		int n = ev_run_once(f->loop, (int)left);

		assert_true(n >= 0);
		if (f->ready)
			return true;
		now = timespec_now();
		left = timespec_diff_ms(&now, &end);
		if (left < 0)
			left = 0;
		if (n == 0 && left == 0)
			return false;
	}
}

static int poll_all(struct fake *f, struct evlog *l)
{
	memset(l, 0, sizeof(*l));
	return f->tp->ops->poll_events(f->tp, collect, l);
}

static void bind_both(struct fake *f)
{
	assert_int_equal(f->tp->ops->bind_class(f->tp, &md9_guid_control_class), 0);
	assert_int_equal(f->tp->ops->bind_class(f->tp, &md9_guid_data_class), 0);
}

static int open_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static int setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));
	char p[PATH_MAX];

	assert_non_null(f);
	f->page = (size_t)sysconf(_SC_PAGESIZE);
	snprintf(f->root, sizeof(f->root), "%s/md9-discovery-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(f->root));
	/* Readable by an unprivileged user too (test_node_not_ours_yet). */
	assert_int_equal(chmod(f->root, 0755), 0);
	pth(f->sys, "%s/sys", f->root);
	pth(f->dev, "%s/dev", f->root);
	mkdirs(pth(p, "%s/bus/vmbus/devices", f->sys));
	mkdirs(pth(p, "%s/bus/vmbus/drivers/uio_hv_generic", f->sys));
	mkdirs(pth(p, "%s/devices", f->sys));
	mkdirs(f->dev);
	put(pth(p, "%s/bus/vmbus/drivers/uio_hv_generic/new_id", f->sys), "");
	mkdirs(pth(p, "%s/proc/sys/kernel", f->root));
	put(pth(p, "%s/proc/sys/kernel/osrelease", f->root), OLD_KERNEL "\n");

	assert_int_equal(md9_roots_under(&f->roots, f->root), 0);
	assert_string_equal(f->roots.sys, f->sys);
	assert_string_equal(f->roots.dev, f->dev);
	f->loop = ev_loop_new();
	assert_non_null(f->loop);
	f->tp = md9_transport_uio_new(&f->roots, f->loop);
	assert_non_null(f->tp);
	assert_string_equal(f->tp->ops->name, "uio");
	assert_true(f->tp->ops->event_fd(f->tp) >= 0);
	assert_int_equal(
	    ev_set(f->loop, &f->tp_h, f->tp->ops->event_fd(f->tp), EPOLLIN, on_event_fd, f), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fake *f = *state;

	if (f->tp)
		f->tp->ops->destroy(f->tp);
	ev_loop_free(f->loop);
	rm_rf(f->root);
	free(f);
	return 0;
}

/* ---- sysfs parsers ---- */

static void test_parsers(void **state)
{
	uint32_t u;
	uint64_t x;
	struct md9_guid g;

	(void)state;
	assert_int_equal(md9_parse_dec_u32("42\n", 100, &u), 0);
	assert_int_equal(u, 42);
	assert_int_equal(md9_parse_dec_u32("0", 100, &u), 0);
	assert_int_equal(u, 0);
	assert_int_equal(md9_parse_dec_u32("101", 100, &u), -EINVAL);
	assert_int_equal(md9_parse_dec_u32("", 100, &u), -EINVAL);
	assert_int_equal(md9_parse_dec_u32("\n", 100, &u), -EINVAL);
	assert_int_equal(md9_parse_dec_u32("-1", 100, &u), -EINVAL);
	assert_int_equal(md9_parse_dec_u32("+1", 100, &u), -EINVAL);
	assert_int_equal(md9_parse_dec_u32("07", 100, &u), -EINVAL);
	assert_int_equal(md9_parse_dec_u32("1 ", 100, &u), -EINVAL);
	assert_int_equal(md9_parse_dec_u32("1\n\n", 100, &u), -EINVAL);
	assert_int_equal(md9_parse_dec_u32("99999999999", UINT32_MAX, &u), -EINVAL);
	assert_int_equal(md9_parse_dec_u32("4294967295", UINT32_MAX, &u), 0);
	assert_int_equal(u, UINT32_MAX);

	assert_int_equal(md9_parse_hex_u64("0x0000000000406000\n", &x), 0);
	assert_int_equal(x, 0x406000);
	assert_int_equal(md9_parse_hex_u64("0x1000", &x), 0);
	assert_int_equal(x, 0x1000);
	assert_int_equal(md9_parse_hex_u64("4096", &x), -EINVAL);
	assert_int_equal(md9_parse_hex_u64("0x", &x), -EINVAL);
	assert_int_equal(md9_parse_hex_u64("0x1g", &x), -EINVAL);
	assert_int_equal(md9_parse_hex_u64("0x10000000000000000", &x), -EINVAL);

	assert_int_equal(md9_parse_sysfs_guid("{" CONTROL_CLASS "}\n", &g), 0);
	assert_true(md9_guid_eq(&g, &md9_guid_control_class));
	assert_int_equal(md9_parse_sysfs_guid(CONTROL_CLASS "\n", &g), -EINVAL);
	assert_int_equal(md9_parse_sysfs_guid("{" CONTROL_CLASS "\n", &g), -EINVAL);
	assert_int_equal(md9_parse_sysfs_guid("{f8e65716-3cb3-4a06-9a60x1889c5cccab5}", &g),
	                 -EINVAL);
	assert_int_equal(md9_parse_sysfs_guid("{" CONTROL_CLASS "}}", &g), -EINVAL);
}

/* --roots DIR: every root under DIR; "/" is the real system. */
static void test_roots(void **state)
{
	struct md9_roots r, d;
	char longdir[MD9_ROOT_MAX + 8];

	(void)state;
	md9_roots_default(&d);
	assert_true(md9_roots_are_default(&d));
	assert_string_equal(d.sys, "/sys");
	assert_string_equal(d.dev, "/dev");
	assert_string_equal(d.kmsg, "/dev/kmsg");
	assert_int_equal(md9_roots_under(&r, "/tmp/t//"), 0);
	assert_string_equal(r.sys, "/tmp/t/sys");
	assert_string_equal(r.dev, "/tmp/t/dev");
	assert_string_equal(r.proc, "/tmp/t/proc");
	assert_string_equal(r.kmsg, "/tmp/t/dev/kmsg");
	assert_string_equal(r.etc, "/tmp/t/etc");
	assert_string_equal(r.run, "/tmp/t/run");
	assert_string_equal(r.lib, "/tmp/t/lib");
	assert_string_equal(r.top, "/tmp/t");
	assert_string_equal(d.top, "/");
	assert_false(md9_roots_are_default(&r));
	assert_int_equal(md9_roots_under(&r, "/"), 0);
	assert_true(md9_roots_are_default(&r));
	/* Refused, and r unchanged. */
	assert_int_equal(md9_roots_under(&r, "relative"), -EINVAL);
	assert_int_equal(md9_roots_under(&r, ""), -EINVAL);
	memset(longdir, 'a', sizeof(longdir) - 1);
	longdir[0] = '/';
	longdir[sizeof(longdir) - 1] = '\0';
	assert_int_equal(md9_roots_under(&r, longdir), -ENAMETOOLONG);
	assert_true(md9_roots_are_default(&r));
}

/* A file of cap - 1 bytes or more is refused, not truncated. */
static void test_read_bounded(void **state)
{
	struct fake *f = *state;
	char p[PATH_MAX], big[200], buf[64];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	put(pth(p, "%s/big", f->root), big);
	assert_int_equal(md9_sysfs_read(AT_FDCWD, p, buf, sizeof(buf)), -EFBIG);
	put(p, "0x1000\n");
	assert_int_equal(md9_sysfs_read(AT_FDCWD, p, buf, sizeof(buf)), 7);
	assert_string_equal(buf, "0x1000\n");
	assert_int_equal(md9_sysfs_read(AT_FDCWD, pth(p, "%s/none", f->root), buf, sizeof(buf)),
	                 -ENOENT);
}

/* ---- construction, bind_class ---- */

static void test_new_without_vmbus(void **state)
{
	struct fake *f = *state;
	char p[PATH_MAX];
	struct md9_roots r;

	assert_int_equal(md9_roots_under(&r, pth(p, "%s/nothing", f->root)), 0);
	assert_null(md9_transport_uio_new(&r, f->loop));
}

static void test_bind_writes_new_id(void **state)
{
	struct fake *f = *state;
	char p[PATH_MAX], buf[128];

	assert_false(readable(f, 0));
	pth(p, "%s/bus/vmbus/drivers/uio_hv_generic/new_id", f->sys);
	assert_int_equal(f->tp->ops->bind_class(f->tp, &md9_guid_control_class), 0);
	assert_int_equal(md9_sysfs_read(AT_FDCWD, p, buf, sizeof(buf)), 37);
	assert_string_equal(buf, CONTROL_CLASS "\n");
	assert_int_equal(f->tp->ops->bind_class(f->tp, &md9_guid_data_class), 0);
	assert_int_equal(md9_sysfs_read(AT_FDCWD, p, buf, sizeof(buf)), 37);
	assert_string_equal(buf, DATA_CLASS "\n");
	/* Binding asks for a rescan through event_fd. */
	assert_true(readable(f, 1000));
}

/* A write the driver refuses is an error, not a bound class: /dev/full
 * fails every write with ENOSPC. */
static void test_bind_refused(void **state)
{
	struct fake *f = *state;
	char p[PATH_MAX];
	struct evlog l;

	pth(p, "%s/bus/vmbus/drivers/uio_hv_generic/new_id", f->sys);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(symlink("/dev/full", p), 0);
	add_ready(f, CONTROL_INST, CONTROL_CLASS, CONTROL_INST, "14", 0);
	assert_int_equal(f->tp->ops->bind_class(f->tp, &md9_guid_control_class), -ENOSPC);
	assert_int_equal(poll_all(f, &l), 0); /* the class is not bound: not offered */
}

static void test_bind_without_driver(void **state)
{
	struct fake *f = *state;
	char p[PATH_MAX];

	rm_rf(pth(p, "%s/bus/vmbus/drivers/uio_hv_generic", f->sys));
	assert_int_equal(f->tp->ops->bind_class(f->tp, &md9_guid_control_class), -ENOENT);
}

/* ---- discovery ---- */

static void test_first_poll_offers_bound_classes(void **state)
{
	struct fake *f = *state;
	struct evlog l;
	struct md9_guid ci = guid(CONTROL_INST), di = guid(DATA_INST1);
	bool saw_control = false, saw_data = false;

	add_ready(f, CONTROL_INST, CONTROL_CLASS, CONTROL_INST, "14", 0);
	add_ready(f, DATA_INST1, DATA_CLASS, DATA_INST1, "15", 1);
	add_ready(f, NETVSC_INST, NETVSC_CLASS, NETVSC_INST, "2", 2);
	bind_both(f);
	assert_true(readable(f, 1000));
	assert_int_equal(poll_all(f, &l), 2);
	for (int i = 0; i < l.n; i++) {
		assert_int_equal(l.ev[i].kind, MD9_DEV_OFFER);
		if (md9_guid_eq(&l.ev[i].instance, &ci)) {
			assert_true(md9_guid_eq(&l.ev[i].class_id, &md9_guid_control_class));
			saw_control = true;
		}
		if (md9_guid_eq(&l.ev[i].instance, &di)) {
			assert_true(md9_guid_eq(&l.ev[i].class_id, &md9_guid_data_class));
			saw_data = true;
		}
	}
	assert_true(saw_control && saw_data);
	/* Drained: nothing more until something changes. */
	assert_false(readable(f, 0));
	assert_int_equal(poll_all(f, &l), 0);
}

/* poll_events rescans only when event_fd reported a change: a change the
 * watches cannot see (maps/ under uioN) goes unnoticed until one they can. */
static void test_rescan_only_on_event(void **state)
{
	struct fake *f = *state;
	struct evlog l;
	char p[PATH_MAX];

	bind_both(f);
	add_ready(f, CONTROL_INST, CONTROL_CLASS, CONTROL_INST, "14", 0);
	assert_int_equal(poll_all(f, &l), 1);
	rm_rf(pth(p, "%s/devices/%s/uio/uio0/maps", f->sys, CONTROL_INST));
	assert_false(readable(f, 0));
	assert_int_equal(poll_all(f, &l), 0);
	put(pth(p, "%s/devices/%s/id", f->sys, CONTROL_INST), "14\n");
	assert_true(readable(f, 1000));
	assert_int_equal(poll_all(f, &l), 1);
	assert_int_equal(l.ev[0].kind, MD9_DEV_RESCIND);
}

static void test_uio_node_appears_later(void **state)
{
	struct fake *f = *state;
	struct evlog l;
	struct md9_channel *ch = (void *)1;
	struct md9_guid ci = guid(CONTROL_INST);

	bind_both(f);
	add_device(f, CONTROL_INST, CONTROL_CLASS, CONTROL_INST, "14", NULL);
	assert_true(readable(f, 1000));
	assert_int_equal(poll_all(f, &l), 0); /* present, not bound to uio: not offered */
	assert_int_equal(f->tp->ops->open(f->tp, &ci, &ch), -EAGAIN);
	assert_null(ch);
	struct md9_guid other = guid(DATA_INST3);
	assert_int_equal(f->tp->ops->open(f->tp, &other, &ch), -ENOENT);
	assert_false(readable(f, 0));

	add_uio_std(f, CONTROL_INST, 0);
	assert_true(readable(f, 1000));
	assert_int_equal(poll_all(f, &l), 1);
	assert_int_equal(l.ev[0].kind, MD9_DEV_OFFER);
	assert_true(md9_guid_eq(&l.ev[0].instance, &ci));
	assert_int_equal(f->tp->ops->open(f->tp, &ci, &ch), 0);
	assert_non_null(ch);
	assert_true(ch->fd >= 0);
	assert_ptr_equal(ch->tp, f->tp);
	assert_true(md9_guid_eq(&ch->instance, &ci));
	f->tp->ops->close(ch);
}

static void test_rescind(void **state)
{
	struct fake *f = *state;
	struct evlog l;
	struct md9_guid di = guid(DATA_INST1);

	bind_both(f);
	add_ready(f, DATA_INST1, DATA_CLASS, DATA_INST1, "15", 3);
	assert_int_equal(poll_all(f, &l), 1);
	assert_false(readable(f, 0));

	remove_device(f, DATA_INST1);
	assert_true(readable(f, 1000));
	assert_int_equal(poll_all(f, &l), 1);
	assert_int_equal(l.ev[0].kind, MD9_DEV_RESCIND);
	assert_true(md9_guid_eq(&l.ev[0].instance, &di));
	assert_true(md9_guid_eq(&l.ev[0].class_id, &md9_guid_data_class));
	struct md9_channel *ch;
	assert_int_equal(f->tp->ops->open(f->tp, &di, &ch), -ENOENT);
}

/* A new relid for the same instance: rescinded and offered again between two
 * scans. */
static void test_reoffer_with_new_relid(void **state)
{
	struct fake *f = *state;
	struct evlog l;
	char p[PATH_MAX];

	bind_both(f);
	add_ready(f, CONTROL_INST, CONTROL_CLASS, CONTROL_INST, "14", 0);
	assert_int_equal(poll_all(f, &l), 1);
	put(pth(p, "%s/devices/%s/id", f->sys, CONTROL_INST), "21\n");
	assert_true(readable(f, 1000));
	assert_int_equal(poll_all(f, &l), 2);
	assert_int_equal(l.ev[0].kind, MD9_DEV_RESCIND);
	assert_int_equal(l.ev[1].kind, MD9_DEV_OFFER);
}

/* Older kernels name device directories vmbus_N: found through device_id. */
static void test_open_by_device_id(void **state)
{
	struct fake *f = *state;
	struct md9_channel *ch;
	struct md9_guid d3 = guid(DATA_INST3);

	add_ready(f, "vmbus_7", DATA_CLASS, DATA_INST3, "7", 4);
	assert_int_equal(f->tp->ops->open(f->tp, &d3, &ch), 0);
	assert_true(md9_guid_eq(&ch->instance, &d3));
	f->tp->ops->close(ch);
}

/* ---- malformed trees ---- */

static void test_malformed_class_id(void **state)
{
	struct fake *f = *state;
	struct evlog l;
	struct md9_channel *ch;
	struct md9_guid ci = guid(CONTROL_INST), di = guid(DATA_INST1);

	bind_both(f);
	/* No braces (not the kernel's "{%pUl}" form), and garbage. */
	add_device_raw(f, CONTROL_INST, CONTROL_CLASS "\n", "{" CONTROL_INST "}\n", "14\n", NULL);
	add_uio_std(f, CONTROL_INST, 0);
	add_device_raw(f, DATA_INST1, "{not-a-guid}\n", "{" DATA_INST1 "}\n", "15\n", NULL);
	add_uio_std(f, DATA_INST1, 1);
	assert_int_equal(poll_all(f, &l), 0);
	assert_int_equal(f->tp->ops->open(f->tp, &ci, &ch), -EINVAL);
	assert_int_equal(f->tp->ops->open(f->tp, &di, &ch), -EINVAL);
}

static void test_malformed_relid_and_monitor(void **state)
{
	struct fake *f = *state;
	struct evlog l;
	struct md9_channel *ch;
	struct md9_guid ci = guid(CONTROL_INST), di = guid(DATA_INST1), d3 = guid(DATA_INST3);

	bind_both(f);
	add_device(f, CONTROL_INST, CONTROL_CLASS, CONTROL_INST, "x14", NULL);
	add_uio_std(f, CONTROL_INST, 0);
	add_device(f, DATA_INST1, DATA_CLASS, DATA_INST1, "15", "128"); /* 4 groups of 32 */
	add_uio_std(f, DATA_INST1, 1);
	/* device_id disagreeing with the directory name */
	add_device(f, DATA_INST3, DATA_CLASS, CONTROL_INST, "16", NULL);
	add_uio_std(f, DATA_INST3, 2);
	assert_int_equal(poll_all(f, &l), 0);
	assert_int_equal(f->tp->ops->open(f->tp, &ci, &ch), -EINVAL);
	assert_int_equal(f->tp->ops->open(f->tp, &di, &ch), -EINVAL);
	assert_int_equal(f->tp->ops->open(f->tp, &d3, &ch), -EINVAL);
}

static void test_bad_map_size(void **state)
{
	struct fake *f = *state;
	struct md9_channel *ch = NULL;
	struct md9_guid ci = guid(CONTROL_INST);
	char p[PATH_MAX], text[64];
	int fds;
	const size_t pg = f->page;
	const struct {
		size_t value;
		const char *raw;
	} bad[] = {
	    {3 * pg, NULL},     /* odd number of pages */
	    {2 * pg, NULL},     /* fewer than 4 pages */
	    {6 * pg + 8, NULL}, /* not page aligned */
	    {0, "24576\n"},     /* decimal */
	    {0, "0x\n"},
	    {0, "0x6000 \n"},
	    {0, "0x00000000000000006000\n"}, /* more than 16 digits */
	    {0, ""},
	};

	add_ready(f, CONTROL_INST, CONTROL_CLASS, CONTROL_INST, "14", 0);
	pth(p, "%s/devices/%s/uio/uio0/maps/map0/size", f->sys, CONTROL_INST);
	fds = open_count();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (bad[i].raw)
			snprintf(text, sizeof(text), "%s", bad[i].raw);
		else
			snprintf(text, sizeof(text), "0x%zx\n", bad[i].value);
		put(p, text);
		assert_int_equal(f->tp->ops->open(f->tp, &ci, &ch), -EINVAL);
		assert_null(ch);
	}
	assert_int_equal(open_count(), fds);
	/* A device file shorter than the map it claims is refused too. */
	snprintf(text, sizeof(text), "0x%zx\n", 8 * pg);
	put(p, text);
	assert_int_equal(f->tp->ops->open(f->tp, &ci, &ch), -EINVAL);
	assert_int_equal(open_count(), fds);
}

/* ---- open: ring layout ---- */

static void test_open_ring_layout(void **state)
{
	struct fake *f = *state;
	struct md9_guid ci = guid(CONTROL_INST);
	struct md9_channel *ch;
	const size_t pg = f->page, half = 3 * pg, len = 6 * pg;
	char p[PATH_MAX];
	struct vmbus_ring host_rx, host_tx;
	struct vmbus_pkt pkt;
	const char *why = NULL;
	char got[8];
	int fd;

	add_ready(f, CONTROL_INST, CONTROL_CLASS, CONTROL_INST, "14", 0);
	fd = open(pth(p, "%s/uio0", f->dev), O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	uint8_t *raw = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(raw != MAP_FAILED);
	close(fd);
	/* hv_uio_open leaves the RX ring masked. */
	*(uint32_t *)(raw + half + 8) = 1;

	assert_int_equal(f->tp->ops->open(f->tp, &ci, &ch), 0);
	assert_int_equal(*(uint32_t *)(raw + half + 8), 0);      /* RX interrupt_mask */
	assert_int_equal(*(uint32_t *)(raw + 64) & 1, 1);        /* TX feature_bits */
	assert_int_equal(*(uint32_t *)(raw + half + 64) & 1, 0); /* RX: the host's */
	assert_ptr_equal(ch->tx.ctl, (void *)((uint8_t *)ch->tx.data - pg));
	assert_int_equal(ch->tx.size, 2 * pg);
	assert_int_equal(ch->rx.size, 2 * pg);

	/* Guest -> host: TX is the first half. */
	struct iovec iov = {(void *)"hello", 5};
	assert_int_equal(vmbus_ring_write(&ch->tx, &iov, 1, 7), 0);
	vmbus_ring_write_commit(&ch->tx);
	assert_int_equal(*(uint32_t *)(raw + 0), vmbus_pkt_total(5)); /* write_index */
	assert_int_equal(*(uint16_t *)(raw + pg), VMBUS_PKT_DATA_INBAND);
	assert_int_equal(*(uint16_t *)(raw + pg + 2), 2); /* offset8 */
	assert_int_equal(*(uint16_t *)(raw + pg + 4), 3); /* len8 */
	assert_int_equal(*(uint64_t *)(raw + pg + 8), 7); /* xid */
	assert_memory_equal(raw + pg + 16, "hello", 5);
	assert_int_equal(vmbus_ring_attach(&host_rx, raw, pg, half - pg), 0);
	assert_true(vmbus_ring_readable(&host_rx, &why) > 0);
	assert_int_equal(vmbus_ring_peek(&host_rx, host_rx.rd, &pkt, &why), 0);
	vmbus_ring_copy_out(&host_rx, pkt.payload, got, 5);
	assert_memory_equal(got, "hello", 5);

	/* Host -> guest: RX is the second half. */
	assert_int_equal(vmbus_ring_attach(&host_tx, raw + half, pg, half - pg), 0);
	struct iovec iov2 = {(void *)"world", 5};
	assert_int_equal(vmbus_ring_write(&host_tx, &iov2, 1, 9), 0);
	vmbus_ring_write_commit(&host_tx);
	assert_memory_equal(raw + half + pg + 16, "world", 5);
	assert_true(vmbus_ring_readable(&ch->rx, &why) > 0);
	assert_int_equal(vmbus_ring_peek(&ch->rx, ch->rx.rd, &pkt, &why), 0);
	assert_int_equal(pkt.xid, 9);
	vmbus_ring_copy_out(&ch->rx, pkt.payload, got, 5);
	assert_memory_equal(got, "world", 5);

	f->tp->ops->close(ch);
	munmap(raw, len);
}

/* ---- signal and ack ---- */

static struct md9_channel *open_std(struct fake *f)
{
	struct md9_guid ci = guid(CONTROL_INST);
	struct md9_channel *ch = NULL;

	add_ready(f, CONTROL_INST, CONTROL_CLASS, CONTROL_INST, "14", 0);
	assert_int_equal(f->tp->ops->open(f->tp, &ci, &ch), 0);
	return ch;
}

/* Not monitored: the doorbell is write(fd, (s32)1). A pipe stands in for the
 * uio file behind ch->fd. */
static void test_signal_unmonitored_writes_one(void **state)
{
	struct fake *f = *state;
	struct md9_channel *ch = open_std(f);
	int p[2];
	int32_t v = 0;

	assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	assert_true(dup2(p[1], ch->fd) == ch->fd);
	assert_int_equal(md9_channel_signal(ch), 0);
	assert_int_equal(read(p[0], &v, sizeof(v)), 4);
	assert_int_equal(v, 1);
	assert_int_equal(read(p[0], &v, sizeof(v)), -1); /* exactly one s32 */
	close(p[0]);
	close(p[1]);
	f->tp->ops->close(ch);
}

static void test_ack(void **state)
{
	struct fake *f = *state;
	struct md9_channel *ch = open_std(f);
	int sv[2], m, s;
	int32_t count = 5;

	/* Nothing pending (EAGAIN) and one event count pending. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	assert_true(dup2(sv[0], ch->fd) == ch->fd);
	assert_int_equal(f->tp->ops->ack(ch), 0);
	assert_int_equal(write(sv[1], &count, sizeof(count)), 4);
	assert_int_equal(f->tp->ops->ack(ch), 0);
	assert_int_equal(recv(sv[0], &count, sizeof(count), MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
	close(sv[0]);
	close(sv[1]);

	/* EIO, as uio_read after hv_uio_rescind: a pty master whose slave was
	 * closed fails read() with EIO. */
	m = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	assert_true(m >= 0);
	assert_int_equal(grantpt(m), 0);
	assert_int_equal(unlockpt(m), 0);
	s = open(ptsname(m), O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(s >= 0);
	close(s);
	assert_true(dup2(m, ch->fd) == ch->fd);
	assert_int_equal(f->tp->ops->ack(ch), -EIO);
	close(m);
	f->tp->ops->close(ch);
}

/* Monitored: bit relid of the interrupt page's send half (map 1, at 2048) and
 * bit monitor_id % 32 of trigger group monitor_id / 32's pending word (map 2,
 * at 8 + 8 * group); nothing else changes and nothing goes through the fd. */
static void test_signal_monitored_sets_bits(void **state)
{
	struct fake *f = *state;
	struct md9_guid di = guid(DATA_INST1);
	struct md9_channel *ch;
	const size_t pg = f->page, len = 6 * pg;
	char p[PATH_MAX], s0[32];
	const char *sizes[3] = {s0, "0x0000000000001000\n", "0x1000\n"};
	uint8_t *raw, *before;
	int fd;

	bind_both(f);
	add_device(f, DATA_INST1, DATA_CLASS, DATA_INST1, "45", "37");
	snprintf(s0, sizeof(s0), "0x%zx\n", len);
	add_uio(f, DATA_INST1, 2, sizes, len);
	assert_int_equal(f->tp->ops->open(f->tp, &di, &ch), 0);

	fd = open(pth(p, "%s/uio2", f->dev), O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	raw = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(raw != MAP_FAILED);
	close(fd);
	before = malloc(len);
	assert_non_null(before);
	memcpy(before, raw, len);

	assert_int_equal(md9_channel_signal(ch), 0);
	const size_t int_off = pg * 1 + 2048 + 4 * (45 / 32); /* map 1 */
	const size_t mon_off = pg * 2 + 8 + 8 * (37 / 32);    /* map 2 */
	assert_int_equal(*(uint32_t *)(raw + int_off), 1u << (45 % 32));
	assert_int_equal(*(uint32_t *)(raw + mon_off), 1u << (37 % 32));
	memcpy(raw + int_off, before + int_off, 4);
	memcpy(raw + mon_off, before + mon_off, 4);
	assert_memory_equal(raw, before, len);
	assert_int_equal(lseek(ch->fd, 0, SEEK_CUR), 0);

	/* Idempotent: a second doorbell sets the same bits. */
	assert_int_equal(md9_channel_signal(ch), 0);
	assert_int_equal(*(uint32_t *)(raw + int_off), 1u << (45 % 32));
	assert_int_equal(*(uint32_t *)(raw + mon_off), 1u << (37 % 32));

	free(before);
	munmap(raw, len);
	f->tp->ops->close(ch);
}

/* A monitored device whose interrupt/monitor maps are malformed. */
static void test_monitored_bad_maps(void **state)
{
	struct fake *f = *state;
	struct md9_guid di = guid(DATA_INST1);
	struct md9_channel *ch;
	const size_t len = 6 * f->page;
	char s0[32];
	const char *sizes[3] = {s0, "0x800\n", "0x1000\n"};

	add_device(f, DATA_INST1, DATA_CLASS, DATA_INST1, "45", "37");
	snprintf(s0, sizeof(s0), "0x%zx\n", len);
	add_uio(f, DATA_INST1, 2, sizes, len);
	assert_int_equal(f->tp->ops->open(f->tp, &di, &ch), -EINVAL);
}

/* ---- what md9 writes to stderr ---- */

struct capture {
	int saved, file;
	enum md9_log_level level;
};

static void capture_start(struct capture *c, enum md9_log_level level)
{
	char tmpl[] = "/tmp/md9-discovery-log-XXXXXX";

	c->file = mkstemp(tmpl);
	assert_true(c->file >= 0);
	unlink(tmpl);
	c->saved = dup(STDERR_FILENO);
	assert_true(c->saved >= 0);
	assert_true(dup2(c->file, STDERR_FILENO) == STDERR_FILENO);
	c->level = md9_log_get_level();
	md9_log_set_level(level);
}

/* The captured text, NUL-terminated, in buf. */
static void capture_end(struct capture *c, char *buf, size_t cap)
{
	ssize_t n;

	md9_log_set_level(c->level);
	assert_true(dup2(c->saved, STDERR_FILENO) == STDERR_FILENO);
	close(c->saved);
	n = pread(c->file, buf, cap - 1, 0);
	assert_true(n >= 0);
	buf[n] = '\0';
	close(c->file);
}

static int count_of(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

/* ---- real kernels (docs/uio.md "Kernel generations") ---- */

/* K7: devtmpfs makes /dev/uioN root 0600; udev hands it to group md9 a
 * moment later. An unprivileged md9 gets EACCES meanwhile: "not ready"
 * (-EAGAIN, with why), never an error; the change of mode wakes event_fd and
 * the next open works. Run as root, the test opens as user nobody (65534);
 * otherwise with mode 0000 on its own file. */
static void as_user(bool on)
{
	if (geteuid() != 0 && getuid() != 0)
		return;
	if (on) {
		assert_int_equal(setegid(65534), 0);
		assert_int_equal(seteuid(65534), 0);
	} else {
		assert_int_equal(seteuid(0), 0);
		assert_int_equal(setegid(0), 0);
	}
}

static void test_node_not_ours_yet(void **state)
{
	struct fake *f = *state;
	struct md9_guid ci = guid(CONTROL_INST);
	struct md9_channel *ch = NULL;
	struct evlog l;
	char p[PATH_MAX];
	bool root = geteuid() == 0;
	int rc;

	bind_both(f);
	add_ready(f, CONTROL_INST, CONTROL_CLASS, CONTROL_INST, "14", 0);
	pth(p, "%s/uio0", f->dev);
	assert_int_equal(chmod(p, root ? 0600 : 0000), 0);
	assert_int_equal(poll_all(f, &l), 1); /* offered: the node exists */
	as_user(true);
	rc = f->tp->ops->open(f->tp, &ci, &ch);
	as_user(false);
	assert_int_equal(rc, -EAGAIN);
	assert_null(ch);
	assert_non_null(strstr(f->tp->why, "permission denied"));
	assert_non_null(strstr(f->tp->why, p));
	assert_non_null(strstr(f->tp->why, "udevadm trigger --subsystem-match=uio"));
	assert_false(readable(f, 0));

	/* udev applies the rule: owner/mode change on the node. */
	assert_int_equal(chmod(p, 0666), 0);
	assert_true(readable(f, 1000));
	assert_int_equal(poll_all(f, &l), 0); /* no device event: a retry cue */
	as_user(true);
	rc = f->tp->ops->open(f->tp, &ci, &ch);
	as_user(false);
	assert_int_equal(rc, 0);
	assert_non_null(ch);
	assert_string_equal(f->tp->why, "");
	f->tp->ops->close(ch);
}

/* Never wait silently: a device of a bound class that is still not ready
 * UIO_WAIT_MS (3 s) after md9 first saw it gets exactly one warning line
 * saying what is wrong and the fix, K2 first. What makes event_fd readable
 * at the deadline is the transport's ev_timer in the loop (readable runs
 * it). */
static void test_watchdog_lines(void **state)
{
	struct fake *f = *state;
	struct evlog l;
	struct capture cap;
	struct timespec t0, t1;
	char p[PATH_MAX], out[8192];
	long ms;

	bind_both(f);
	/* K2: no monitor page, Linux before 6.10: refused at probe. */
	add_device(f, CONTROL_INST, CONTROL_CLASS, CONTROL_INST, "14", NULL);
	/* Monitored, yet not taken: some other probe failure. */
	add_device(f, DATA_INST1, DATA_CLASS, DATA_INST1, "15", "5");
	/* Taken by another driver. */
	add_device(f, DATA_INST3, DATA_CLASS, DATA_INST3, "16", NULL);
	assert_int_equal(symlink("../../../bus/vmbus/drivers/hv_netvsc",
	                         pth(p, "%s/devices/%s/driver", f->sys, DATA_INST3)),
	                 0);
	/* Taken by uio_hv_generic, but no node in /dev. */
	add_device(f, DATA_INST4, DATA_CLASS, DATA_INST4, "17", NULL);
	add_uio_std(f, DATA_INST4, 4);
	assert_int_equal(unlink(pth(p, "%s/uio4", f->dev)), 0);

	assert_true(readable(f, 1000));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	capture_start(&cap, MD9_LOG_WARN);
	assert_int_equal(poll_all(f, &l), 0);
	assert_true(readable(f, 5000)); /* the watchdog's deadline */
	assert_int_equal(poll_all(f, &l), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* Once each: a later change does not repeat them. */
	put(pth(p, "%s/devices/%s/id", f->sys, DATA_INST1), "15\n");
	assert_true(readable(f, 1000));
	assert_int_equal(poll_all(f, &l), 0);
	capture_end(&cap, out, sizeof(out));

	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms >= 2900 && ms < 5000);
	assert_int_equal(count_of(out, "warning: "), 4);
	assert_int_equal(count_of(out,
	                          "vmbus device " CONTROL_INST " (SynthRdp control "
	                          "channel): no uio device 3 s after binding: uio_hv_generic "
	                          "did not take it and its channel has no monitor page; Linux "
	                          "before 6.10 refuses such channels (kernel log: \"vmbus "
	                          "channel requires hypercall\"), and this kernel is " OLD_KERNEL
	                          ". Fix: Linux 6.10 or later (Debian 12: linux-image-amd64 "
	                          "from bookworm-backports; Ubuntu 24.04: "
	                          "linux-generic-hwe-24.04) or an out-of-tree uio_hv_generic; "
	                          "md9 doctor tells more"),
	                 1);
	assert_int_equal(count_of(out, "vmbus device " DATA_INST1 " (SynthRdp data channel): "
	                               "no uio device 3 s after binding: uio_hv_generic did not "
	                               "take it (its channel has a monitor page; kernel " OLD_KERNEL
	                               "); its probe failed: see why in the kernel log"),
	                 1);
	assert_int_equal(count_of(out, "vmbus device " DATA_INST3 " (SynthRdp data channel): "
	                               "bound to driver hv_netvsc, not uio_hv_generic"),
	                 1);
	assert_int_equal(count_of(out, "vmbus device " DATA_INST4 " (SynthRdp data channel): "
	                               "uio_hv_generic took it as uio4, but"),
	                 1);
	assert_non_null(strstr(out, "/uio4 does not exist 3 s later"));

	/* Ready now (K2 fixed by a new kernel, say): no line, offered. */
	add_uio_std(f, CONTROL_INST, 0);
	assert_true(readable(f, 1000));
	assert_int_equal(poll_all(f, &l), 1);
	assert_int_equal(l.ev[0].kind, MD9_DEV_OFFER);
}

/* K3: a kernel without the 2024-08 rescind fix keeps the rescinded device,
 * and opening its node fails with ENODEV. One warning line with the fix;
 * the device is reported rescinded and not offered again under that relid;
 * a new relid is a new offer. A misc character device with no driver
 * behind its minor answers open() with ENODEV, as vmbus_open does for a
 * rescinded channel: needs root (mknod). */
static void test_rescind_kept_enodev(void **state)
{
	struct fake *f = *state;
	struct md9_guid di = guid(DATA_INST1);
	struct md9_channel *ch = NULL;
	struct evlog l;
	struct capture cap;
	char p[PATH_MAX], out[8192];
	int fd, rc;

	bind_both(f);
	add_ready(f, DATA_INST1, DATA_CLASS, DATA_INST1, "15", 3);
	assert_int_equal(poll_all(f, &l), 1);
	pth(p, "%s/uio3", f->dev);
	unlink(p);
	if (mknod(p, S_IFCHR | 0600, makedev(10, 250)) < 0) {
		skip(); /* not root, or no mknod here */
		return;
	}
	fd = open(p, O_RDWR | O_CLOEXEC);
	if (fd >= 0 || errno != ENODEV) {
		if (fd >= 0)
			close(fd);
		skip(); /* minor 250 taken, or devices not allowed here */
		return;
	}
	assert_int_equal(poll_all(f, &l), 0); /* the node changed: no device event */

	capture_start(&cap, MD9_LOG_WARN);
	rc = f->tp->ops->open(f->tp, &di, &ch);
	assert_int_equal(rc, -ENODEV);
	assert_null(ch);
	assert_non_null(strstr(f->tp->why, "kept it after the host rescinded it"));
	assert_true(readable(f, 1000));
	assert_int_equal(poll_all(f, &l), 1);
	assert_int_equal(l.ev[0].kind, MD9_DEV_RESCIND);
	assert_int_equal(f->tp->ops->open(f->tp, &di, &ch), -ENODEV); /* no second line */
	capture_end(&cap, out, sizeof(out));
	assert_int_equal(count_of(out, "warning: "), 1);
	assert_int_equal(count_of(out, "vmbus device " DATA_INST1 " (SynthRdp data channel): "
	                               "reopening "),
	                 1);
	assert_non_null(strstr(out, "/uio3 fails (ENODEV): the host rescinded this channel and "
	                            "the kernel (" OLD_KERNEL ") kept the device instead of "
	                            "removing it, so the host's next offer of it never arrives: "
	                            "it stays lost until a reboot. Fix: a kernel with \"Drivers: "
	                            "hv: vmbus: Fix rescind handling in uio_hv_generic\""));

	/* The host offers it again under a new relid: a new device. */
	put(pth(p, "%s/devices/%s/id", f->sys, DATA_INST1), "21\n");
	assert_true(readable(f, 1000));
	assert_int_equal(poll_all(f, &l), 1);
	assert_int_equal(l.ev[0].kind, MD9_DEV_OFFER);
}

static void test_kernel_version(void **state)
{
	unsigned a = 0, b = 0;

	(void)state;
	assert_int_equal(md9_parse_kernel_version("6.1.0-31-amd64", &a, &b), 0);
	assert_int_equal(a, 6);
	assert_int_equal(b, 1);
	assert_int_equal(md9_parse_kernel_version("6.12.12+bpo-amd64", &a, &b), 0);
	assert_int_equal(b, 12);
	assert_int_equal(md9_parse_kernel_version("unknown", &a, &b), -EINVAL);
	assert_int_equal(md9_parse_kernel_version("6", &a, &b), -EINVAL);
	assert_int_equal(md9_parse_kernel_version("6.x", &a, &b), -EINVAL);
	assert_int_equal(md9_kernel_before("6.8.0-51-generic", 6, 10), 1);
	assert_int_equal(md9_kernel_before("5.15.0-1", 6, 10), 1);
	assert_int_equal(md9_kernel_before("6.10.0", 6, 10), 0);
	assert_int_equal(md9_kernel_before("6.17.0-35-generic", 6, 10), 0);
	assert_int_equal(md9_kernel_before("7.0.0", 6, 10), 0);
	assert_int_equal(md9_kernel_before("weird", 6, 10), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parsers),
	    cmocka_unit_test(test_roots),
	    cmocka_unit_test_setup_teardown(test_read_bounded, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_new_without_vmbus, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bind_writes_new_id, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bind_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bind_without_driver, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_first_poll_offers_bound_classes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rescan_only_on_event, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_uio_node_appears_later, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rescind, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reoffer_with_new_relid, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_by_device_id, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_malformed_class_id, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_malformed_relid_and_monitor, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_map_size, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_ring_layout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_signal_unmonitored_writes_one, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ack, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_signal_monitored_sets_bits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_monitored_bad_maps, setup, teardown),
	    cmocka_unit_test(test_kernel_version),
	    cmocka_unit_test_setup_teardown(test_node_not_ours_yet, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rescind_kept_enodev, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_watchdog_lines, setup, teardown),
	};

	md9_log_init("test_discovery", MD9_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
