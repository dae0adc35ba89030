/* md9's sim transport against a real md9-hostsim process (CTest sets
 * MD9_HOSTSIM): 128 MiB out and back through the shared-memory rings with
 * random chunk sizes on both sides, byte-exact; a clean close (the host frees
 * the channel: it can be opened again); and the rescind path when hostsim is
 * stopped or killed.
 *
 * Nothing here sleeps to synchronise: every wait is epoll/poll on the channel
 * eventfd, the bus socket, hostsim's stdout or its pidfd, with a deadline. */
#include "pipe.h"
#include "transport.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define BIG_TOTAL   (128ull << 20)
#define SMALL_TOTAL (1ull << 20)
#define DEADLINE_MS 10000 /* no progress for this long = stalled */
#define ECHO_SEED   12345u

/* ---- the byte stream: byte i is a pure function of (seed, i) ---- */

static uint64_t splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static void stream_fill(uint64_t seed, uint64_t pos, uint8_t *dst, size_t n)
{
	while (n > 0) {
		uint64_t v = splitmix(seed ^ (pos >> 3) * 0xd6e8feb86659fd93ull);
		size_t o = pos & 7, m = 8 - o < n ? 8 - o : n;
		memcpy(dst, (uint8_t *)&v + o, m);
		dst += m;
		pos += m;
		n -= m;
	}
}

static void stream_check(uint64_t seed, uint64_t pos, const uint8_t *src, size_t n)
{
	uint8_t want[4096];

	while (n > 0) {
		size_t m = n < sizeof(want) ? n : sizeof(want);
		stream_fill(seed, pos, want, m);
		if (memcmp(want, src, m) != 0) {
			size_t i = 0;
			while (want[i] == src[i])
				i++;
			fail_msg("echoed byte %" PRIu64 " is %02x, sent %02x", pos + i, src[i], want[i]);
		}
		pos += m;
		src += m;
		n -= m;
	}
}

static uint64_t rng(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- md9-hostsim as a child process ---- */

struct ctx {
	char dir[64];
	char bus[128];
	pid_t pid;
	int pidfd;
	struct md9_transport *tp;
	struct md9_channel *ch;
	struct md9_guid inst;
	char inst_text[MD9_GUID_STRLEN];
	/* Device events seen by poll_events. */
	int offers, rescinds;
};

static void hostsim_start(struct ctx *c, unsigned seed, const char *ring_size)
{
	const char *exe = getenv("MD9_HOSTSIM");
	char seed_text[16];
	char line[256];
	size_t len = 0;
	int out[2];

	if (!exe || !*exe)
		fail_msg("MD9_HOSTSIM is not set (run through ctest)");
	snprintf(seed_text, sizeof(seed_text), "%u", seed);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	c->pid = fork();
	assert_true(c->pid >= 0);
	if (c->pid == 0) {
		dup2(out[1], STDOUT_FILENO);
		if (ring_size)
			execl(exe, exe, "--bus", c->bus, "--echo-channel", c->inst_text,
			      "--echo-seed", seed_text, "--ring-size", ring_size, (char *)NULL);
		else
			execl(exe, exe, "--bus", c->bus, "--echo-channel", c->inst_text,
			      "--echo-seed", seed_text, (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	c->pidfd = (int)syscall(SYS_pidfd_open, c->pid, 0);
	assert_true(c->pidfd >= 0);
	/* Wait for "ready PATH\n" on its stdout: the socket exists then. */
	int64_t end = now_ms() + DEADLINE_MS;
	while (!memchr(line, '\n', len)) {
		struct pollfd p = {.fd = out[0], .events = POLLIN};
		int left = (int)(end - now_ms());
		assert_true(left > 0);
		assert_int_equal(poll(&p, 1, left), 1);
		ssize_t n = read(out[0], line + len, sizeof(line) - 1 - len);
		if (n <= 0)
			fail_msg("md9-hostsim exited before it was ready");
		len += (size_t)n;
		assert_true(len < sizeof(line) - 1);
	}
	close(out[0]);
	line[len] = '\0';
	/* "ready PATH" then optional fields ("raw=N"). */
	char want[160];
	size_t wl = (size_t)snprintf(want, sizeof(want), "ready %s", c->bus);
	if (strncmp(line, want, wl) != 0 || (line[wl] != ' ' && line[wl] != '\n'))
		fail_msg("unexpected readiness line from md9-hostsim: %s", line);
}

/* Wait for hostsim to exit; returns its wait status. */
static int hostsim_reap(struct ctx *c, int timeout_ms)
{
	struct pollfd p = {.fd = c->pidfd, .events = POLLIN};
	int status = -1;

	assert_int_equal(poll(&p, 1, timeout_ms), 1);
	assert_int_equal(waitpid(c->pid, &status, 0), c->pid);
	close(c->pidfd);
	c->pid = 0;
	c->pidfd = -1;
	return status;
}

static void on_dev_event(void *arg, const struct md9_dev_event *ev)
{
	struct ctx *c = arg;

	if (!md9_guid_eq(&ev->instance, &c->inst))
		return;
	assert_true(md9_guid_eq(&ev->class_id, &md9_guid_data_class));
	if (ev->kind == MD9_DEV_OFFER)
		c->offers++;
	else
		c->rescinds++;
}

/* Start hostsim, connect, bind the data class, wait for the offer, open. */
static void connect_and_open(struct ctx *c, const char *ring_size)
{
	struct md9_transport *tp;

	hostsim_start(c, ECHO_SEED, ring_size);
	c->tp = tp = md9_transport_sim_new(c->bus);
	assert_non_null(tp);
	assert_int_equal(tp->ops->bind_class(tp, &md9_guid_data_class), 0);
	int efd = tp->ops->event_fd(tp);
	assert_true(efd >= 0);
	int64_t end = now_ms() + DEADLINE_MS;
	while (c->offers == 0) {
		struct pollfd p = {.fd = efd, .events = POLLIN};
		int left = (int)(end - now_ms());
		assert_true(left > 0);
		assert_int_equal(poll(&p, 1, left), 1);
		assert_int_equal(tp->ops->poll_events(tp, on_dev_event, c), 0);
	}
	assert_int_equal(c->offers, 1);
	assert_int_equal(tp->ops->open(tp, &c->inst, &c->ch), 0);
	assert_non_null(c->ch);
	assert_true(md9_guid_eq(&c->ch->instance, &c->inst));
	assert_true(c->ch->fd >= 0);
	/* The guest announced pending_send_sz on its TX ring; both rings empty. */
	assert_true(c->ch->tx.ctl->feature_bits & VMBUS_RING_FEAT_PENDING_SEND_SZ);
	assert_int_equal(c->ch->tx.ctl->write_index, c->ch->tx.ctl->read_index);
	assert_int_equal(c->ch->rx.ctl->write_index, c->ch->rx.ctl->read_index);
}

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	strcpy(c->dir, "/tmp/md9-simrt-XXXXXX");
	if (!mkdtemp(c->dir))
		return -1;
	snprintf(c->bus, sizeof(c->bus), "%s/bus", c->dir);
	c->pidfd = -1;
	md9_guid_data_instance(0, &c->inst);
	md9_guid_format(&c->inst, c->inst_text);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	if (c->ch)
		c->tp->ops->close(c->ch);
	if (c->tp)
		c->tp->ops->destroy(c->tp);
	if (c->pid > 0) {
		kill(c->pid, SIGKILL);
		waitpid(c->pid, NULL, 0);
	}
	if (c->pidfd >= 0)
		close(c->pidfd);
	unlink(c->bus);
	rmdir(c->dir);
	free(c);
	return 0;
}

/* ---- the guest's side of the echo ---- */

struct pump {
	struct md9_channel *ch;
	struct pipe_tx tx;
	struct pipe_rx rx;
	uint64_t seed, total, sent, recvd;
	uint64_t wrng, rrng; /* chunk sizes, writer and reader */
	uint64_t chunk_left;
	bool tx_waiting;
	uint64_t wakeups, signals, tx_waits, rx_rechecks;
	uint8_t buf[1u << 16];
};

/* Read everything readable, in random sizes, checking every byte. */
static void pump_drain(struct pump *p)
{
	for (;;) {
		size_t want = 1 + rng(&p->rrng) % sizeof(p->buf);
		ssize_t n;

		if (rng(&p->rrng) & 1) {
			n = pipe_rx_read(&p->rx, p->buf, want);
			if (n <= 0) {
				assert_int_equal(n, 0);
				return;
			}
			stream_check(p->seed, p->recvd, p->buf, (size_t)n);
			p->recvd += (uint64_t)n;
		} else {
			struct iovec iov[64];
			int niov;
			n = pipe_rx_peekv(&p->rx, iov, 64, &niov, want);
			if (n <= 0) {
				assert_int_equal(n, 0);
				return;
			}
			/* Consume a random part of what was described. */
			size_t take = 1 + rng(&p->rrng) % (size_t)n, left = take;
			for (int i = 0; i < niov && left > 0; i++) {
				size_t m = iov[i].iov_len < left ? iov[i].iov_len : left;
				stream_check(p->seed, p->recvd + (take - left), iov[i].iov_base, m);
				left -= m;
			}
			pipe_rx_consume(&p->rx, take);
			p->recvd += take;
		}
		assert_true(p->recvd <= p->sent);
	}
}

/* Write in random chunk sizes until done or the ring is full; a full ring
 * arms pending_send_sz (pipe_tx_wait). */
static void pump_fill(struct pump *p)
{
	if (p->tx_waiting) {
		vmbus_ring_write_unwait(&p->ch->tx);
		p->tx_waiting = false;
	}
	while (p->sent < p->total) {
		size_t done;

		if (p->chunk_left == 0) {
			p->chunk_left = 1 + rng(&p->wrng) % (64u << 10);
			if (p->chunk_left > p->total - p->sent)
				p->chunk_left = p->total - p->sent;
		}
		if (rng(&p->wrng) & 1) {
			size_t n = p->chunk_left < sizeof(p->buf) ? p->chunk_left : sizeof(p->buf);
			stream_fill(p->seed, p->sent, p->buf, n);
			done = pipe_tx_write(&p->tx, p->buf, n);
		} else {
			struct iovec iov[2];
			int niov;
			size_t cap = pipe_tx_reserve(&p->tx, p->chunk_left, iov, &niov), off = 0;
			/* Sometimes put fewer bytes than reserved. */
			done = cap == 0 || (rng(&p->wrng) & 3) ? cap : 1 + rng(&p->wrng) % cap;
			for (int i = 0; i < niov && off < done; i++) {
				size_t m = iov[i].iov_len < done - off ? iov[i].iov_len : done - off;
				stream_fill(p->seed, p->sent + off, iov[i].iov_base, m);
				off += m;
			}
			pipe_tx_put(&p->tx, done);
		}
		p->sent += done;
		p->chunk_left -= done;
		if (done == 0) {
			size_t min = p->chunk_left < PIPE_MAX_DATA ? p->chunk_left : PIPE_MAX_DATA;
			if (pipe_tx_wait(&p->tx, min))
				continue;
			p->tx_waiting = true;
			p->tx_waits++;
			return;
		}
	}
}

/* Echo `total` bytes through the open channel. Returns bytes/s. */
static double pump_run(struct ctx *c, uint64_t total, uint64_t seed)
{
	struct md9_transport *tp = c->tp;
	struct md9_channel *ch = c->ch;
	struct pump *p = calloc(1, sizeof(*p));
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN};
	int64_t t0 = now_ms();

	assert_non_null(p);
	assert_true(ep >= 0);
	p->ch = ch;
	p->seed = seed;
	p->total = total;
	p->wrng = seed * 2 + 1;
	p->rrng = seed * 4 + 3;
	pipe_tx_init(&p->tx, &ch->tx);
	pipe_rx_init(&p->rx, &ch->rx);
	ev.data.fd = ch->fd;
	assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, ch->fd, &ev), 0);
	ev.data.fd = tp->ops->event_fd(tp);
	assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev), 0);

	while (p->recvd < total) {
		bool kick = false;

		/* RX: masked while draining; unmask and look again, so a packet
		 * written meanwhile (no signal while masked) is not left behind. */
		for (;;) {
			vmbus_ring_mask(&ch->rx);
			pump_drain(p);
			kick |= pipe_rx_commit(&p->rx); /* once per wake-up */
			if (!vmbus_ring_unmask(&ch->rx))
				break;
			p->rx_rechecks++;
		}
		pump_fill(p);
		kick |= pipe_tx_commit(&p->tx);
		if (kick) {
			assert_int_equal(md9_channel_signal(ch), 0);
			p->signals++;
		}
		assert_null(p->rx.error);
		assert_null(ch->rx.broken);
		assert_null(ch->tx.broken);
		if (p->recvd == total)
			break;

		/* Sleep after every pass, progress or not: RX is empty and
		 * unmasked, TX is done or waiting with pending_send_sz set, so
		 * the host must signal before there is anything to do. A lost
		 * wake-up stalls here and fails. */
		struct epoll_event got[2];
		int n = epoll_wait(ep, got, 2, DEADLINE_MS);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			fail_msg("stalled: sent %" PRIu64 ", received %" PRIu64 ", tx waiting %d", p->sent,
				 p->recvd, p->tx_waiting);
		assert_true(n > 0);
		for (int i = 0; i < n; i++) {
			if (got[i].data.fd == ch->fd) {
				p->wakeups++;
				assert_int_equal(tp->ops->ack(ch), 0);
			} else {
				assert_int_equal(tp->ops->poll_events(tp, on_dev_event, c), 0);
			}
		}
	}
	int64_t ms = now_ms() - t0;
	assert_int_equal(p->sent, total);
	assert_int_equal(p->recvd, total);
	/* Both directions drained: the host consumed everything we wrote. */
	assert_int_equal(ch->tx.ctl->read_index, ch->tx.ctl->write_index);
	assert_int_equal(ch->rx.ctl->read_index, ch->rx.ctl->write_index);
	print_message("echo: %" PRIu64 " MiB each way in %" PRId64 " ms (%.0f MiB/s each way); "
		      "%" PRIu64 " wake-ups, %" PRIu64 " signals, %" PRIu64 " tx waits, "
		      "%" PRIu64 " rx rechecks\n",
		      total >> 20, ms, ms ? (double)total / 1048576.0 * 1000.0 / (double)ms : 0.0,
		      p->wakeups, p->signals, p->tx_waits, p->rx_rechecks);
	assert_true(p->wakeups > 0);
	close(ep);
	free(p);
	return ms ? (double)total * 1000.0 / (double)ms : 0.0;
}

/* ---- tests ---- */

static void test_echo_128mib_and_clean_close(void **state)
{
	struct ctx *c = *state;
	struct md9_transport *tp;
	struct md9_channel *other = NULL;
	struct md9_guid absent;

	connect_and_open(c, NULL);
	tp = c->tp;
	/* Not offered, or already open. */
	md9_guid_data_instance(1, &absent);
	assert_int_equal(tp->ops->open(tp, &absent, &other), -ENOENT);
	assert_int_equal(tp->ops->open(tp, &c->inst, &other), -EBUSY);
	assert_null(other);
	/* Nothing pending on a fresh channel: ack is a no-op. */
	assert_int_equal(tp->ops->ack(c->ch), 0);

	pump_run(c, BIG_TOTAL, 0x5eed0001);

	/* Clean close: the host frees the channel (SIM_CLOSE), so it can be
	 * opened again, on fresh rings, and still echoes. */
	tp->ops->close(c->ch);
	c->ch = NULL;
	assert_int_equal(tp->ops->open(tp, &c->inst, &c->ch), 0);
	assert_int_equal(c->ch->tx.ctl->write_index, 0);
	assert_int_equal(c->ch->rx.ctl->write_index, 0);
	pump_run(c, SMALL_TOTAL, 0x5eed0002);
	tp->ops->close(c->ch);
	c->ch = NULL;
	assert_int_equal(c->rescinds, 0);
	tp->ops->destroy(tp);
	c->tp = NULL;

	/* hostsim itself stops cleanly on SIGTERM. */
	assert_int_equal(kill(c->pid, SIGTERM), 0);
	int status = hostsim_reap(c, DEADLINE_MS);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* Rings of two pages per direction (4 KiB of data): many packets per read,
 * a wrap every few packets, and a wake-up every few KiB, so every signalling
 * rule is exercised thousands of times. */
static void test_echo_small_rings(void **state)
{
	struct ctx *c = *state;
	char size[16];

	snprintf(size, sizeof(size), "%ld", 2 * sysconf(_SC_PAGESIZE));
	connect_and_open(c, size);
	assert_int_equal(c->ch->tx.size, (uint32_t)sysconf(_SC_PAGESIZE));
	pump_run(c, 16ull << 20, 0x5eed0005);
	c->tp->ops->close(c->ch);
	c->ch = NULL;
}

/* Wait until the transport and the channel both reported the host gone. */
static void expect_gone(struct ctx *c, bool want_rescind_event)
{
	struct md9_transport *tp = c->tp;
	struct md9_channel *ch = c->ch;
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN};
	int efd = tp->ops->event_fd(tp);
	int poll_rc = 0, ack_rc = 0;
	int64_t end = now_ms() + DEADLINE_MS;

	assert_true(ep >= 0);
	ev.data.fd = ch->fd;
	assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, ch->fd, &ev), 0);
	ev.data.fd = efd;
	assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev), 0);
	while (poll_rc == 0 || ack_rc == 0) {
		struct epoll_event got[2];
		int left = (int)(end - now_ms());
		if (left <= 0)
			fail_msg("host gone but not reported: poll_events %d, ack %d", poll_rc, ack_rc);
		int n = epoll_wait(ep, got, 2, left);
		if (n < 0 && errno == EINTR)
			continue;
		assert_true(n >= 0);
		for (int i = 0; i < n; i++) {
			if (got[i].data.fd == efd && poll_rc == 0) {
				poll_rc = tp->ops->poll_events(tp, on_dev_event, c);
				/* Once dead, efd stays readable (EOF): stop watching it. */
				if (poll_rc != 0)
					epoll_ctl(ep, EPOLL_CTL_DEL, efd, NULL);
			} else if (got[i].data.fd == ch->fd && ack_rc == 0) {
				ack_rc = tp->ops->ack(ch);
				if (ack_rc != 0)
					epoll_ctl(ep, EPOLL_CTL_DEL, ch->fd, NULL);
			}
		}
	}
	close(ep);
	assert_int_equal(poll_rc, -ECONNRESET);
	assert_int_equal(ack_rc, -EIO);
	assert_int_equal(tp->ops->ack(ch), -EIO); /* sticky */
	assert_int_equal(c->rescinds, want_rescind_event ? 1 : 0);
	/* A dead transport opens nothing. */
	struct md9_channel *other = NULL;
	assert_true(tp->ops->open(tp, &c->inst, &other) < 0);
	assert_null(other);
	/* Our mapping of the rings outlives the host: reading it is safe. */
	const char *why = NULL;
	assert_true(vmbus_ring_readable(&ch->rx, &why) >= 0);
}

/* SIGTERM: hostsim rescinds its devices, then closes the bus. */
static void test_rescind_on_sigterm(void **state)
{
	struct ctx *c = *state;

	connect_and_open(c, NULL);
	pump_run(c, SMALL_TOTAL, 0x5eed0003);
	assert_int_equal(kill(c->pid, SIGTERM), 0);
	expect_gone(c, true);
	int status = hostsim_reap(c, DEADLINE_MS);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	c->tp->ops->close(c->ch);
	c->ch = NULL;
}

/* SIGKILL: no rescind message, only the bus socket's end. */
static void test_host_killed(void **state)
{
	struct ctx *c = *state;

	connect_and_open(c, NULL);
	pump_run(c, SMALL_TOTAL, 0x5eed0004);
	assert_int_equal(kill(c->pid, SIGKILL), 0);
	int status = hostsim_reap(c, DEADLINE_MS);
	assert_true(WIFSIGNALED(status));
	expect_gone(c, false);
	c->tp->ops->close(c->ch);
	c->ch = NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_echo_128mib_and_clean_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_echo_small_rings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rescind_on_sigterm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_killed, setup, teardown),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
