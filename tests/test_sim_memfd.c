/* The sim transport checks the size of the host's ring memory before
 * mapping it (issue 15, point 8): a memfd smaller than the rings it claims
 * would fault (SIGBUS) on the first access past its end. This test plays
 * md9-hostsim's side of the bus (src/vmbus/simproto.h) by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fdpass.h"
#include "simproto.h"
#include "transport.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void on_event(void *arg, const struct md9_dev_event *ev)
{
	(*(int *)arg)++;
	(void)ev;
}

/* Offer one data channel, answer its open with a memfd of memfd_len bytes
 * for rings announced as 2 x ring_size; returns what open() returned. */
static int open_with(size_t memfd_len, uint64_t ring_size)
{
	char dir[] = "/tmp/md9-simmemfd-XXXXXX", path[128];
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct md9_transport *tp;
	struct md9_channel *ch = NULL;
	struct md9_guid inst;
	struct sim_msg m;
	int ls, hs, fds[3], events = 0, rc;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/bus", dir);
	strcpy(sa.sun_path, path);
	ls = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(ls, 1), 0);
	tp = md9_transport_sim_new(path);
	assert_non_null(tp);
	hs = accept(ls, NULL, NULL);
	assert_true(hs >= 0);
	assert_int_equal(recv(hs, &m, sizeof(m), 0), (ssize_t)sizeof(m));
	assert_int_equal(m.type, SIM_HELLO);

	md9_guid_data_instance(0, &inst);
	memset(&m, 0, sizeof(m));
	m.type = SIM_OFFER;
	m.class_id = md9_guid_data_class;
	m.instance = inst;
	assert_int_equal(send(hs, &m, sizeof(m), 0), (ssize_t)sizeof(m));
	assert_int_equal(tp->ops->bind_class(tp, &md9_guid_data_class), 0);
	assert_int_equal(tp->ops->poll_events(tp, on_event, &events), 0);
	assert_int_equal(events, 1);

	/* The answer is queued before the guest asks: sim_open reads it. */
	fds[0] = memfd_create("test-ring", MFD_CLOEXEC);
	assert_int_equal(ftruncate(fds[0], (off_t)memfd_len), 0);
	fds[1] = eventfd(0, EFD_CLOEXEC);
	fds[2] = eventfd(0, EFD_CLOEXEC);
	memset(&m, 0, sizeof(m));
	m.type = SIM_OPENED;
	m.instance = inst;
	m.page_size = 4096;
	m.ring_size = ring_size;
	assert_int_equal(fdpass_send(hs, &m, sizeof(m), fds, 3), (ssize_t)sizeof(m));
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	rc = tp->ops->open(tp, &inst, &ch);
	if (rc == 0)
		tp->ops->close(ch);
	tp->ops->destroy(tp);
	close(hs);
	close(ls);
	unlink(path);
	rmdir(dir);
	return rc;
}

static void test_short_memfd_refused(void **state)
{
	(void)state;
	/* 2 x 64 KiB announced, one byte short: refused, no mapping, no SIGBUS */
	assert_int_equal(open_with(2 * 65536 - 1, 65536), -EPROTO);
	assert_int_equal(open_with(0, 65536), -EPROTO);
	/* exactly the announced size: opened */
	assert_int_equal(open_with(2 * 65536, 65536), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_short_memfd_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
