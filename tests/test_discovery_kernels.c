/* The uio_hv_generic transport (src/vmbus/transport_uio.c and uio_*.c,
 * src/vmbus/sysfs.c) on discovery_fixture.h's fake sysfs and /dev tree.
 * Here: what real kernels do around md9 (docs/uio.md "Kernel generations")
 * and the lines md9 writes about it: a node still root's before udev, the
 * watchdog's warning on a kernel that refuses the channels, a rescinded
 * device the kernel keeps, and the kernel version rule. */
#include "discovery_fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

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
	add_control(f);
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
	    cmocka_unit_test(test_kernel_version),
	    cmocka_unit_test_setup_teardown(test_node_not_ours_yet, discovery_setup,
	                                    discovery_teardown),
	    cmocka_unit_test_setup_teardown(test_rescind_kept_enodev, discovery_setup,
	                                    discovery_teardown),
	    cmocka_unit_test_setup_teardown(test_watchdog_lines, discovery_setup,
	                                    discovery_teardown),
	};

	md9_log_init("test_discovery_kernels", MD9_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
