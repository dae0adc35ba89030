/* The uio_hv_generic transport (src/vmbus/transport_uio.c and uio_*.c,
 * src/vmbus/sysfs.c) on discovery_fixture.h's fake sysfs and /dev tree.
 * Here: an open channel's ring layout in the device's map, and signalling
 * the host and acknowledging its interrupts, monitored or not. */
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

	add_control(f);
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

	add_control(f);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_open_ring_layout, discovery_setup,
	                                    discovery_teardown),
	    cmocka_unit_test_setup_teardown(test_signal_unmonitored_writes_one, discovery_setup,
	                                    discovery_teardown),
	    cmocka_unit_test_setup_teardown(test_ack, discovery_setup, discovery_teardown),
	    cmocka_unit_test_setup_teardown(test_signal_monitored_sets_bits, discovery_setup,
	                                    discovery_teardown),
	    cmocka_unit_test_setup_teardown(test_monitored_bad_maps, discovery_setup,
	                                    discovery_teardown),
	};

	md9_log_init("test_discovery_channel", MD9_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
