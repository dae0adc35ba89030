/* The fake sysfs and /dev tree of the uio transport's tests:
 * discovery_fixture.h. */
#include "discovery_fixture.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static void collect(void *arg, const struct md9_dev_event *e)
{
	struct evlog *l = arg;

	assert_true(l->n < 16);
	l->ev[l->n++] = *e;
}

const char *pth(char *buf, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, PATH_MAX, fmt, ap);
	va_end(ap);
	assert_true(n > 0 && n < PATH_MAX);
	return buf;
}

void put(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(close(fd), 0);
}

void mkdirs(const char *path)
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

void rm_rf(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

struct md9_guid guid(const char *text)
{
	struct md9_guid g;

	assert_int_equal(md9_guid_parse(text, &g), 0);
	return g;
}

void add_device_raw(struct fake *f, const char *name, const char *class_file, const char *inst_file,
                    const char *relid, const char *monitor_id)
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

void add_device(struct fake *f, const char *name, const char *cls, const char *inst,
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

void remove_device(struct fake *f, const char *name)
{
	char p[PATH_MAX];

	assert_int_equal(unlink(pth(p, "%s/bus/vmbus/devices/%s", f->sys, name)), 0);
	rm_rf(pth(p, "%s/devices/%s", f->sys, name));
}

void add_uio(struct fake *f, const char *name, int idx, const char *const sizes[3],
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

void add_uio_std(struct fake *f, const char *name, int idx)
{
	char s0[32];
	const char *sizes[3] = {s0, NULL, NULL};

	snprintf(s0, sizeof(s0), "0x%016zx\n", 6 * f->page);
	add_uio(f, name, idx, sizes, 6 * f->page);
}

void add_ready(struct fake *f, const char *name, const char *cls, const char *inst,
               const char *relid, int idx)
{
	add_device(f, name, cls, inst, relid, NULL);
	add_uio_std(f, name, idx);
}

void add_control(struct fake *f)
{
	add_ready(f, CONTROL_INST, CONTROL_CLASS, CONTROL_INST, "14", 0);
}

void offer_control(struct fake *f, struct evlog *l)
{
	bind_both(f);
	add_control(f);
	assert_int_equal(poll_all(f, l), 1);
	assert_int_equal(l->ev[0].kind, MD9_DEV_OFFER);
}

static void on_event_fd(struct ev_handler *h, uint32_t events)
{
	struct fake *f = h->arg;

	(void)events;
	f->ready = true;
}

bool readable(struct fake *f, int timeout_ms)
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

int poll_all(struct fake *f, struct evlog *l)
{
	memset(l, 0, sizeof(*l));
	return f->tp->ops->poll_events(f->tp, collect, l);
}

void bind_both(struct fake *f)
{
	assert_int_equal(f->tp->ops->bind_class(f->tp, &md9_guid_control_class), 0);
	assert_int_equal(f->tp->ops->bind_class(f->tp, &md9_guid_data_class), 0);
}

int discovery_setup(void **state)
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

int discovery_teardown(void **state)
{
	struct fake *f = *state;

	if (f->tp)
		f->tp->ops->destroy(f->tp);
	ev_loop_free(f->loop);
	rm_rf(f->root);
	free(f);
	return 0;
}
