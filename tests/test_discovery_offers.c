/* The uio_hv_generic transport (src/vmbus/transport_uio.c and uio_*.c,
 * src/vmbus/sysfs.c) on discovery_fixture.h's fake sysfs and /dev tree.
 * Here: offers and rescinds found in the tree (first poll, rescans only on
 * an event, a uio node that appears later, re-offers), opening by instance,
 * and malformed trees refused device by device. */
#include "discovery_fixture.h"

#include <dirent.h>
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

/* Open file descriptors of this process. */
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

/* ---- discovery ---- */

static void test_first_poll_offers_bound_classes(void **state)
{
	struct fake *f = *state;
	struct evlog l;
	struct md9_guid ci = guid(CONTROL_INST), di = guid(DATA_INST1);
	bool saw_control = false, saw_data = false;

	add_control(f);
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

	offer_control(f, &l);
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

	offer_control(f, &l);
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

	add_control(f);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_first_poll_offers_bound_classes, discovery_setup,
	                                    discovery_teardown),
	    cmocka_unit_test_setup_teardown(test_rescan_only_on_event, discovery_setup,
	                                    discovery_teardown),
	    cmocka_unit_test_setup_teardown(test_uio_node_appears_later, discovery_setup,
	                                    discovery_teardown),
	    cmocka_unit_test_setup_teardown(test_rescind, discovery_setup, discovery_teardown),
	    cmocka_unit_test_setup_teardown(test_reoffer_with_new_relid, discovery_setup,
	                                    discovery_teardown),
	    cmocka_unit_test_setup_teardown(test_open_by_device_id, discovery_setup,
	                                    discovery_teardown),
	    cmocka_unit_test_setup_teardown(test_malformed_class_id, discovery_setup,
	                                    discovery_teardown),
	    cmocka_unit_test_setup_teardown(test_malformed_relid_and_monitor, discovery_setup,
	                                    discovery_teardown),
	    cmocka_unit_test_setup_teardown(test_bad_map_size, discovery_setup, discovery_teardown),
	};

	md9_log_init("test_discovery_offers", MD9_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
