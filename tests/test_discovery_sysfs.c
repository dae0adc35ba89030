/* The uio_hv_generic transport (src/vmbus/transport_uio.c and uio_*.c,
 * src/vmbus/sysfs.c) on discovery_fixture.h's fake sysfs and /dev tree.
 * Here: the sysfs parsers and bounded reads, the fake-root paths, building
 * the transport, and binding the classes to uio_hv_generic (new_id). */
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
	add_control(f);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parsers),
	    cmocka_unit_test(test_roots),
	    cmocka_unit_test_setup_teardown(test_read_bounded, discovery_setup, discovery_teardown),
	    cmocka_unit_test_setup_teardown(test_new_without_vmbus, discovery_setup,
	                                    discovery_teardown),
	    cmocka_unit_test_setup_teardown(test_bind_writes_new_id, discovery_setup,
	                                    discovery_teardown),
	    cmocka_unit_test_setup_teardown(test_bind_refused, discovery_setup, discovery_teardown),
	    cmocka_unit_test_setup_teardown(test_bind_without_driver, discovery_setup,
	                                    discovery_teardown),
	};

	md9_log_init("test_discovery_sysfs", MD9_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
