/* md9bench's bulk transfer (sink, source) on one epoll thread, the byte
 * pattern and its check, and the echo and hold of one connection. */
#include "md9bench.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static void count(struct conn *c, size_t n)
{
	if (n == 0)
		return;
	if (atomic_load_explicit(&c->first_ns, memory_order_relaxed) == 0)
		atomic_store(&c->first_ns, timespec_now_ns());
	atomic_fetch_add_explicit(&c->bytes, n, memory_order_relaxed);
}

/* The source's byte stream: byte i is (i * 131 + 7) mod 256. */
static uint8_t pattern(uint64_t i)
{
	return (uint8_t)(i * 131u + 7u);
}

static void check(struct conn *c, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] != pattern(c->vpos + i)) {
			printf("result {\"error\": \"byte %" PRIu64 " is %02x, sent %02x\"}\n",
			       c->vpos + i, p[i], pattern(c->vpos + i));
			fflush(stdout);
			_exit(1);
		}
	}
	c->vpos += n;
}

/* Bulk transfer (sink and source): one thread serves every connection
 * through a level-triggered epoll, one recv or send of --chunk bytes per
 * ready connection per round. Connections are then served round-robin by
 * construction, so the fairness measured is the relay's, not how the kernel
 * happens to schedule one thread per connection. */
static int io_ep = -1;
static _Atomic int io_open;
static pthread_once_t io_once = PTHREAD_ONCE_INIT;
static uint8_t *io_buf;

static void *io_loop(void *arg)
{
	struct epoll_event ev[MAXC];

	for (;;) {
		int n = epoll_wait(io_ep, ev, MAXC, 100);
		if (n < 0 && errno != EINTR)
			md9bench_die("epoll_wait: %s", strerror(errno));
		if (n <= 0 && arg && atomic_load(&io_open) == 0)
			return NULL; /* the caller's connections are all gone */
		for (int i = 0; i < n; i++) {
			struct conn *c = ev[i].data.ptr;
			ssize_t k;
			if (md9bench_opt.mode == M_SINK) {
				k = recv(c->fd, io_buf, md9bench_opt.chunk, MSG_DONTWAIT);
				if (k > 0) {
					if (md9bench_opt.verify)
						check(c, io_buf, (size_t)k);
					count(c, (size_t)k);
				}
			} else {
				k = send(c->fd, io_buf + (c->spos & 255), md9bench_opt.chunk,
				         MSG_DONTWAIT | MSG_NOSIGNAL);
				if (k > 0) {
					c->spos += (uint64_t)k;
					count(c, (size_t)k);
				}
			}
			if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR)) {
				epoll_ctl(io_ep, EPOLL_CTL_DEL, c->fd, NULL);
				close(c->fd);
				atomic_fetch_sub(&io_open, 1);
			}
		}
	}
}

static void io_init(void)
{
	size_t span = md9bench_opt.chunk + 256;

	io_ep = epoll_create1(EPOLL_CLOEXEC);
	io_buf = malloc(span);
	if (io_ep < 0 || !io_buf)
		md9bench_die("epoll: %s", strerror(errno));
	for (size_t i = 0; i < span; i++)
		io_buf[i] = pattern(i); /* the source's stream; the sink overwrites it */
}

/* Hand a connection that finished its handshake to the transfer loop. */
void md9bench_bulk_add(struct conn *c, bool start_thread)
{
	struct epoll_event ev = {.events = md9bench_opt.mode == M_SINK ? EPOLLIN : EPOLLOUT,
	                         .data.ptr = c};
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static bool started;
	pthread_t th;

	pthread_once(&io_once, io_init);
	if (md9bench_opt.mode == M_SINK) {
		if (md9bench_opt.verify)
			check(c, c->rbuf, c->rlen);
		count(c, c->rlen); /* payload that came with the handshake */
	}
	atomic_fetch_add(&io_open, 1);
	if (epoll_ctl(io_ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		md9bench_die("epoll_ctl: %s", strerror(errno));
	pthread_mutex_lock(&lock);
	if (start_thread && !started) {
		started = true;
		if (pthread_create(&th, NULL, io_loop, NULL) != 0)
			md9bench_die("thread");
		pthread_detach(th);
	}
	pthread_mutex_unlock(&lock);
}

void md9bench_bulk_echo(struct conn *c)
{
	uint8_t buf[65536];

	if (c->rlen && md9bench_net_write_full(c->fd, c->rbuf, c->rlen) < 0)
		return;
	for (;;) {
		ssize_t r = recv(c->fd, buf, sizeof(buf), 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || md9bench_net_write_full(c->fd, buf, (size_t)r) < 0)
			break;
	}
}

void md9bench_bulk_hold(struct conn *c)
{
	uint8_t buf[4096];

	for (;;) {
		ssize_t r = recv(c->fd, buf, sizeof(buf), 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
	}
}

void md9bench_bulk_serve(void)
{
	io_loop(&io_open);
}
