/* md9bench: the traffic ends of md9's benchmark (bench/run).
 *
 *   md9bench server --mode sink|source|echo|idle|ping [--listen PORT] ...
 *       A fake RDP server: for every connection it reads the X.224
 *       Connection Request, answers a Connection Confirm selecting
 *       PROTOCOL_RDP (so md9 --security auto relays plaintext), reads the
 *       MCS Connect-Initial, then sinks, sources, echoes, ping-pongs (ping:
 *       the server measures, the host end echoes) or just holds the
 *       connection; with --echo-first N the first N connections echo whatever
 *       the mode (an interactive session among bulk ones). Prints "listening
 *       PORT", and "accept N NS" (CLOCK_MONOTONIC) for every accept().
 *
 *   md9bench client --connect PORT --mode source|sink|ping|idle|hs ...
 *       The host-side client: connects (to md9-hostsim's raw front end, to
 *       a relay, or straight to the server), sends the vmconnect Connection
 *       Request, reads the Confirm, sends a 462-byte seed-shaped
 *       Connect-Initial, then sources, sinks, ping-pongs, idles, or (hs)
 *       closes and starts over.
 *
 * The sink side measures: it waits until --conns connections carry payload,
 * lets --warmup seconds pass, then counts bytes per connection over --window
 * seconds, together with the CPU time (every thread's schedstat, ns) of the
 * processes named in the --watch file ("NAME PID" lines) and of itself.
 * Results are one line "result {json}" on stdout.
 *
 * All times are CLOCK_MONOTONIC, comparable across processes. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXC          64
#define TPKT_MAX      65535
#define DEFAULT_CHUNK (256u << 10)

/* Connection Confirm, RDP_NEG_RSP selectedProtocol = PROTOCOL_RDP (0). */
static const uint8_t cc_rdp[19] = {0x03, 0x00, 0x00, 0x13, 0x0e, 0xd0, 0x00, 0x00, 0x12, 0x34,
                                   0x00, 0x02, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00};
/* The seed's frames 1 and 3 (X.224 CR, MCS Connect-Initial), shared with md9
 * doctor and md9-testclient; the Connect-Response of md9-testserver. */
#include "../../src/rdp/mcs_seed.h"
#include "../../tests/tools/connect_response.h"
#define seed_ci mcs_seed_connect_initial
#define seed_cr mcs_seed_connection_request

enum mode { M_SINK, M_SOURCE, M_ECHO, M_IDLE, M_PING, M_HS };

static struct {
	bool server;
	enum mode mode;
	int port;
	int conns;
	double warmup, window, hold;
	const char *watch;
	size_t chunk;
	int count, warm_count;
	size_t msg;
	int gap_ms;
	bool handshake;
	bool verify;
	double interval;
	int echo_first;
	double delay;
} opt = {.conns = 1,
         .warmup = 1.0,
         .window = 3.0,
         .hold = 30.0,
         .chunk = DEFAULT_CHUNK,
         .count = 20000,
         .warm_count = 2000,
         .msg = 64,
         .gap_ms = 100,
         .handshake = true};

struct conn {
	int fd;
	uint64_t vpos; /* --verify: stream offset of the next byte */
	uint64_t spos; /* source: stream offset of the next byte */
	_Atomic uint64_t bytes;
	_Atomic uint64_t first_ns;
	uint8_t *rbuf; /* handshake reader */
	size_t rlen;
};

static struct conn conns[MAXC];
static _Atomic int nconns, nready;

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void sleep_s(double s)
{
	struct timespec t = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};

	while (nanosleep(&t, &t) < 0 && errno == EINTR)
		;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "md9bench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static int write_full(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_full(int fd, void *p, size_t n)
{
	uint8_t *b = p;

	while (n) {
		ssize_t r = recv(fd, b, n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

static void nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Read until one whole TPKT is buffered; its length, or -1. Bytes after it
 * stay in c->rbuf. */
static long read_tpkt(struct conn *c)
{
	for (;;) {
		if (c->rlen >= 4) {
			if (c->rbuf[0] != 3)
				return -1;
			size_t l = (size_t)c->rbuf[2] << 8 | c->rbuf[3];
			if (l < 4)
				return -1;
			if (c->rlen >= l)
				return (long)l;
		}
		ssize_t r = recv(c->fd, c->rbuf + c->rlen, TPKT_MAX + 1 - c->rlen, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		c->rlen += (size_t)r;
	}
}

static void drop_pdu(struct conn *c, size_t l)
{
	memmove(c->rbuf, c->rbuf + l, c->rlen - l);
	c->rlen -= l;
}

/* Server side: CR in, CC out, Connect-Initial in, Connect-Response out. */
static int server_handshake(struct conn *c)
{
	long l = read_tpkt(c);

	if (l < 7 || (c->rbuf[5] & 0xf0) != 0xe0) {
		fprintf(stderr, "md9bench server: no X.224 Connection Request\n");
		return -1;
	}
	drop_pdu(c, (size_t)l);
	if (write_full(c->fd, cc_rdp, sizeof(cc_rdp)) < 0)
		return -1;
	l = read_tpkt(c);
	if (l < 9 || c->rbuf[4] != 0x02 || c->rbuf[5] != 0xf0 || c->rbuf[7] != 0x7f ||
	    c->rbuf[8] != 0x65) {
		fprintf(stderr, "md9bench server: no MCS Connect-Initial\n");
		return -1;
	}
	drop_pdu(c, (size_t)l);
	return write_full(c->fd, test_connect_response, sizeof(test_connect_response));
}

/* Client side: CR out, CC in, Connect-Initial out, Connect-Response in. */
static int client_handshake(struct conn *c)
{
	long l;

	if (write_full(c->fd, seed_cr, sizeof(seed_cr)) < 0)
		return -1;
	l = read_tpkt(c);
	if (l < 7 || (c->rbuf[5] & 0xf0) != 0xd0) {
		fprintf(stderr, "md9bench client: no X.224 Connection Confirm\n");
		return -1;
	}
	drop_pdu(c, (size_t)l);
	if (write_full(c->fd, seed_ci, sizeof(seed_ci)) < 0)
		return -1;
	l = read_tpkt(c);
	if (l < 9 || c->rbuf[7] != 0x7f || c->rbuf[8] != 0x66) {
		fprintf(stderr, "md9bench client: no MCS Connect-Response\n");
		return -1;
	}
	drop_pdu(c, (size_t)l);
	return 0;
}

static void count(struct conn *c, size_t n)
{
	if (n == 0)
		return;
	if (atomic_load_explicit(&c->first_ns, memory_order_relaxed) == 0)
		atomic_store(&c->first_ns, now_ns());
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
			die("epoll_wait: %s", strerror(errno));
		if (n <= 0 && arg && atomic_load(&io_open) == 0)
			return NULL; /* the caller's connections are all gone */
		for (int i = 0; i < n; i++) {
			struct conn *c = ev[i].data.ptr;
			ssize_t k;
			if (opt.mode == M_SINK) {
				k = recv(c->fd, io_buf, opt.chunk, MSG_DONTWAIT);
				if (k > 0) {
					if (opt.verify)
						check(c, io_buf, (size_t)k);
					count(c, (size_t)k);
				}
			} else {
				k = send(c->fd, io_buf + (c->spos & 255), opt.chunk,
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
	size_t span = opt.chunk + 256;

	io_ep = epoll_create1(EPOLL_CLOEXEC);
	io_buf = malloc(span);
	if (io_ep < 0 || !io_buf)
		die("epoll: %s", strerror(errno));
	for (size_t i = 0; i < span; i++)
		io_buf[i] = pattern(i); /* the source's stream; the sink overwrites it */
}

/* Hand a connection that finished its handshake to the transfer loop. */
static void io_add(struct conn *c, bool start_thread)
{
	struct epoll_event ev = {.events = opt.mode == M_SINK ? EPOLLIN : EPOLLOUT, .data.ptr = c};
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static bool started;
	pthread_t th;

	pthread_once(&io_once, io_init);
	if (opt.mode == M_SINK) {
		if (opt.verify)
			check(c, c->rbuf, c->rlen);
		count(c, c->rlen); /* payload that came with the handshake */
	}
	atomic_fetch_add(&io_open, 1);
	if (epoll_ctl(io_ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		die("epoll_ctl: %s", strerror(errno));
	pthread_mutex_lock(&lock);
	if (start_thread && !started) {
		started = true;
		if (pthread_create(&th, NULL, io_loop, NULL) != 0)
			die("thread");
		pthread_detach(th);
	}
	pthread_mutex_unlock(&lock);
}

static void do_echo(struct conn *c)
{
	uint8_t buf[65536];

	if (c->rlen && write_full(c->fd, c->rbuf, c->rlen) < 0)
		return;
	for (;;) {
		ssize_t r = recv(c->fd, buf, sizeof(buf), 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || write_full(c->fd, buf, (size_t)r) < 0)
			break;
	}
}

static void do_hold(struct conn *c)
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

/* ---- CPU time of other processes ---- */

/* Every thread's time on a CPU (schedstat, ns); falls back to stat ticks. */
static int64_t cpu_ns(int pid)
{
	char path[64];
	DIR *d;
	struct dirent *e;
	int64_t sum = 0;
	bool any = false;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char p[320];
		unsigned long long ns;
		FILE *f;
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/proc/%d/task/%s/schedstat", pid, e->d_name);
		f = fopen(p, "r");
		if (f) {
			if (fscanf(f, "%llu", &ns) == 1) {
				sum += (int64_t)ns;
				any = true;
			}
			fclose(f);
		}
	}
	closedir(d);
	if (!any) {
		unsigned long ut, st;
		FILE *f;
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		f = fopen(path, "r");
		if (!f || fscanf(f, "%*d %*s %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
		                 &ut, &st) != 2) {
			if (f)
				fclose(f);
			return -1;
		}
		fclose(f);
		sum = (int64_t)(ut + st) * (1000000000 / sysconf(_SC_CLK_TCK));
	}
	return sum;
}

struct watched {
	char name[32];
	int pid;
	int64_t t0, t1;
};

static int read_watch(struct watched *w, int max)
{
	int n = 0;
	FILE *f;

	snprintf(w[n].name, sizeof(w[n].name), "self");
	w[n++].pid = getpid();
	if (!opt.watch || !(f = fopen(opt.watch, "r")))
		return n;
	while (n < max && fscanf(f, "%31s %d", w[n].name, &w[n].pid) == 2)
		n++;
	fclose(f);
	return n;
}

/* The sink's measurement: wait for opt.conns payload-carrying connections,
 * warm up, then count over the window. Prints the result and exits. */
static void *measure(void *arg)
{
	struct watched w[16];
	uint64_t b0[MAXC], b1[MAXC], t0, t1, deadline = now_ns() + 30000000000ull;
	int n, nw;

	for (;;) {
		int ready = 0;
		n = atomic_load(&nconns);
		for (int i = 0; i < n; i++)
			ready += atomic_load(&conns[i].first_ns) != 0;
		if (ready >= opt.conns)
			break;
		if (now_ns() > deadline) {
			printf("result {\"error\": \"only %d of %d connections carried data\"}\n",
			       ready, opt.conns);
			fflush(stdout);
			_exit(1);
		}
		sleep_s(0.005);
	}
	sleep_s(opt.warmup);
	nw = read_watch(w, 16);
	n = atomic_load(&nconns);
	for (int i = 0; i < nw; i++)
		w[i].t0 = cpu_ns(w[i].pid);
	t0 = now_ns();
	for (int i = 0; i < n; i++)
		b0[i] = atomic_load(&conns[i].bytes);
	if (opt.interval > 0) {
		/* Progress per interval, per connection (how evenly they share over time). */
		uint64_t prev[MAXC], cur, tp = t0;
		memcpy(prev, b0, sizeof(prev));
		while (now_ns() - t0 + (uint64_t)(opt.interval * 1e9) <=
		       (uint64_t)(opt.window * 1e9)) {
			sleep_s(opt.interval);
			uint64_t t = now_ns();
			printf("tick %.3f", (double)(t - t0) / 1e9);
			for (int i = 0; i < n; i++) {
				cur = atomic_load(&conns[i].bytes);
				printf(" %.0f",
				       (double)(cur - prev[i]) / ((double)(t - tp) / 1e9) / 1e6);
				prev[i] = cur;
			}
			printf("\n");
			fflush(stdout);
			tp = t;
		}
		double rest = opt.window - (double)(now_ns() - t0) / 1e9;
		if (rest > 0)
			sleep_s(rest);
	} else {
		sleep_s(opt.window);
	}
	for (int i = 0; i < n; i++)
		b1[i] = atomic_load(&conns[i].bytes);
	t1 = now_ns();
	for (int i = 0; i < nw; i++)
		w[i].t1 = cpu_ns(w[i].pid);

	double secs = (double)(t1 - t0) / 1e9;
	uint64_t total = 0;
	printf("result {\"window_s\": %.6f, \"conns\": [", secs);
	for (int i = 0, k = 0; i < n; i++) {
		if (atomic_load(&conns[i].first_ns) == 0)
			continue;
		total += b1[i] - b0[i];
		printf("%s{\"bytes\": %" PRIu64 ", \"mbps\": %.3f}", k++ ? ", " : "", b1[i] - b0[i],
		       (double)(b1[i] - b0[i]) / secs / 1e6);
	}
	printf("], \"bytes\": %" PRIu64 ", \"mbps\": %.3f, \"cpu_s\": {", total,
	       (double)total / secs / 1e6);
	for (int i = 0; i < nw; i++)
		printf("%s\"%s\": %.6f", i ? ", " : "", w[i].name,
		       w[i].t0 < 0 || w[i].t1 < 0 ? -1.0 : (double)(w[i].t1 - w[i].t0) / 1e9);
	printf("}}\n");
	fflush(stdout);
	_exit(0);
	return arg;
}

/* ---- server ---- */

static int ping_loop(struct conn *c);

static void *server_conn(void *arg)
{
	struct conn *c = arg;

	if (!opt.handshake || server_handshake(c) == 0) {
		/* --echo-first: the first connections are interactive ones. */
		switch ((long)(c - conns) < opt.echo_first ? M_ECHO : opt.mode) {
		case M_PING:
			ping_loop(c);
			break;
		case M_SINK:
		case M_SOURCE:
			io_add(c, true);
			return NULL;
		case M_ECHO:
			do_echo(c);
			break;
		default:
			do_hold(c);
			break;
		}
	}
	close(c->fd);
	return NULL;
}

static int run_server(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
	                         .sin_port = htons((uint16_t)opt.port),
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int one = 1, lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	pthread_t th;

	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 64) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &len) < 0)
		die("listen: %s", strerror(errno));
	printf("listening %d\n", ntohs(sa.sin_port));
	fflush(stdout);
	if (opt.mode == M_SINK && pthread_create(&th, NULL, measure, NULL) != 0)
		die("thread");
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		uint64_t t = now_ns();
		int i;
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			die("accept: %s", strerror(errno));
		}
		i = atomic_load(&nconns);
		printf("accept %d %" PRIu64 "\n", i, t);
		fflush(stdout);
		if (i == MAXC) {
			close(fd);
			continue;
		}
		nodelay(fd);
		conns[i].fd = fd;
		conns[i].rbuf = malloc(TPKT_MAX + 1);
		atomic_store(&nconns, i + 1);
		if (pthread_create(&th, NULL, server_conn, &conns[i]) != 0)
			die("thread");
		pthread_detach(th);
	}
}

/* ---- client ---- */

static int client_connect(struct conn *c)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
	                         .sin_port = htons((uint16_t)opt.port),
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	nodelay(c->fd);
	c->rlen = 0;
	if (!c->rbuf)
		c->rbuf = malloc(TPKT_MAX + 1);
	return opt.handshake ? client_handshake(c) : 0;
}

static void *client_conn(void *arg)
{
	struct conn *c = arg;

	if (client_connect(c) < 0) {
		fprintf(stderr, "md9bench client: connection %ld failed: %s\n", (long)(c - conns),
		        strerror(errno));
		exit(1);
	}
	atomic_fetch_add(&nready, 1);
	switch (opt.mode) {
	case M_SINK:
		io_add(c, true);
		break;
	case M_SOURCE:
		io_add(c, false); /* run_client serves them */
		break;
	default:
		do_hold(c);
		break;
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double pct(const uint64_t *v, int n, double p)
{
	int i = (int)(p / 100.0 * (n - 1) + 0.5);

	return (double)v[i] / 1000.0;
}

/* Ping-pong on a connected, opened connection: --size bytes out, as many
 * back; --warm-count, then --count measured. Prints the result line. */
static int ping_loop(struct conn *c)
{
	uint8_t out[4096] = {0}, in[4096];
	uint64_t *rtt;
	double sum = 0;

	if (opt.msg > sizeof(out))
		die("--size at most %zu", sizeof(out));
	rtt = malloc(sizeof(*rtt) * (size_t)opt.count);
	if (!rtt)
		die("out of memory");
	/* Bytes that came with the handshake would be mistaken for an echo. */
	if (c->rlen)
		die("ping-pong: %zu unexpected bytes after the opening", c->rlen);
	for (int i = -opt.warm_count; i < opt.count; i++) {
		uint64_t t = now_ns();
		out[0] = (uint8_t)i;
		if (write_full(c->fd, out, opt.msg) < 0 || read_full(c->fd, in, opt.msg) < 0)
			die("ping-pong broke at %d", i);
		if (in[0] != out[0])
			die("ping-pong: wrong echo");
		if (i >= 0)
			rtt[i] = now_ns() - t;
	}
	for (int i = 0; i < opt.count; i++)
		sum += (double)rtt[i];
	qsort(rtt, (size_t)opt.count, sizeof(*rtt), cmp_u64);
	printf("result {\"n\": %d, \"size\": %zu, \"min_us\": %.2f, \"p50_us\": %.2f, \"p90_us\": "
	       "%.2f, "
	       "\"p99_us\": %.2f, \"p999_us\": %.2f, \"max_us\": %.2f, \"mean_us\": %.2f}\n",
	       opt.count, opt.msg, pct(rtt, opt.count, 0), pct(rtt, opt.count, 50),
	       pct(rtt, opt.count, 90), pct(rtt, opt.count, 99), pct(rtt, opt.count, 99.9),
	       pct(rtt, opt.count, 100), sum / opt.count / 1000.0);
	fflush(stdout);
	free(rtt);
	return 0;
}

static int run_ping(void)
{
	struct conn *c = &conns[0];

	if (client_connect(c) < 0)
		die("connect: %s", strerror(errno));
	if (opt.delay > 0)
		sleep_s(opt.delay); /* e.g. until other connections carry a load */
	return ping_loop(c);
}

/* hs: connect, handshake, close; --count times, --gap-ms apart. */
static int run_hs(void)
{
	for (int i = 0; i < opt.count; i++) {
		struct conn *c = &conns[0];
		uint64_t t0 = now_ns(), t1;
		if (client_connect(c) < 0)
			die("session %d: connect/handshake failed", i);
		t1 = now_ns();
		close(c->fd);
		printf("hs %d %" PRIu64 " %" PRIu64 "\n", i, t0, t1);
		fflush(stdout);
		sleep_s(opt.gap_ms / 1000.0);
	}
	return 0;
}

static int run_client(void)
{
	pthread_t th[MAXC];

	if (opt.mode == M_PING)
		return run_ping();
	if (opt.mode == M_HS)
		return run_hs();
	if (opt.conns > MAXC)
		die("at most %d connections", MAXC);
	for (int i = 0; i < opt.conns; i++)
		if (pthread_create(&th[i], NULL, client_conn, &conns[i]) != 0)
			die("thread");
	atomic_store(&nconns, opt.conns);
	if (opt.mode == M_SINK)
		measure(NULL); /* exits */
	if (opt.mode == M_IDLE) {
		uint64_t deadline = now_ns() + 30000000000ull;
		while (atomic_load(&nready) < opt.conns) {
			if (now_ns() > deadline)
				die("only %d of %d sessions came up", atomic_load(&nready),
				    opt.conns);
			sleep_s(0.002);
		}
		printf("ready %d\n", opt.conns);
		fflush(stdout);
		/* Hold until --hold passes or standard input closes. */
		struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
		poll(&p, 1, (int)(opt.hold * 1000));
		return 0;
	}
	for (int i = 0; i < opt.conns; i++)
		pthread_join(th[i], NULL);
	if (opt.mode == M_SOURCE)
		io_loop(&io_open); /* until every connection is gone */
	return 0;
}

static void usage(void) __attribute__((noreturn));
static void usage(void)
{
	fprintf(
	    stderr,
	    "usage: md9bench server --mode sink|source|echo|idle|ping [--listen PORT] [options]\n"
	    "       md9bench client --connect PORT --mode source|sink|ping|idle|hs [options]\n"
	    "  --conns N        connections (client) / connections to measure (sink)\n"
	    "  --warmup S       sink: seconds before the window (default 1)\n"
	    "  --window S       sink: measured seconds (default 3)\n"
	    "  --watch FILE     sink: \"NAME PID\" lines whose CPU time to report\n"
	    "  --chunk BYTES    read/write size (default 262144)\n"
	    "  --count N        ping: round trips (default 20000); hs: sessions\n"
	    "  --warm-count N   ping: round trips before measuring (default 2000)\n"
	    "  --size BYTES     ping: message size (default 64)\n"
	    "  --gap-ms MS      hs: pause between sessions (default 100)\n"
	    "  --hold S         idle: seconds to hold (default 30, or until stdin closes)\n"
	    "  --no-handshake   skip the X.224/MCS exchange\n"
	    "  --verify         sink: check every byte of the source's pattern\n"
	    "  --interval S     sink: also print MB/s per connection every S seconds\n"
	    "  --echo-first N   server: the first N connections echo, whatever --mode\n"
	    "  --delay S        ping: wait S seconds after the opening before the first ping\n");
	exit(2);
}

static enum mode parse_mode(const char *s)
{
	static const char *const names[] = {"sink", "source", "echo", "idle", "ping", "hs"};

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0)
			return (enum mode)i;
	usage();
}

int main(int argc, char **argv)
{
	/* clang-format off */
	static const struct option lo[] = {
		{"mode", required_argument, NULL, 'm'},
		{"listen", required_argument, NULL, 'l'},
		{"connect", required_argument, NULL, 'c'},
		{"conns", required_argument, NULL, 'n'},
		{"warmup", required_argument, NULL, 'W'},
		{"window", required_argument, NULL, 'w'},
		{"interval", required_argument, NULL, 'I'},
		{"watch", required_argument, NULL, 'x'},
		{"chunk", required_argument, NULL, 'k'},
		{"count", required_argument, NULL, 'N'},
		{"warm-count", required_argument, NULL, 'C'},
		{"size", required_argument, NULL, 's'},
		{"gap-ms", required_argument, NULL, 'g'},
		{"hold", required_argument, NULL, 'H'},
		{"no-handshake", no_argument, NULL, 'P'},
		{"verify", no_argument, NULL, 'V'},
		{"echo-first", required_argument, NULL, 'F'},
		{"delay", required_argument, NULL, 'D'},
		{NULL, 0, NULL, 0},
	};
	/* clang-format on */
	int c;
	bool have_mode = false;

	if (argc < 2)
		usage();
	if (strcmp(argv[1], "server") == 0)
		opt.server = true;
	else if (strcmp(argv[1], "client") != 0)
		usage();
	optind = 2;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'm':
			opt.mode = parse_mode(optarg);
			have_mode = true;
			break;
		case 'l':
		case 'c':
			opt.port = atoi(optarg);
			break;
		case 'n':
			opt.conns = atoi(optarg);
			break;
		case 'W':
			opt.warmup = atof(optarg);
			break;
		case 'w':
			opt.window = atof(optarg);
			break;
		case 'x':
			opt.watch = optarg;
			break;
		case 'k':
			opt.chunk = strtoul(optarg, NULL, 0);
			break;
		case 'N':
			opt.count = atoi(optarg);
			break;
		case 'C':
			opt.warm_count = atoi(optarg);
			break;
		case 's':
			opt.msg = strtoul(optarg, NULL, 0);
			break;
		case 'g':
			opt.gap_ms = atoi(optarg);
			break;
		case 'H':
			opt.hold = atof(optarg);
			break;
		case 'P':
			opt.handshake = false;
			break;
		case 'V':
			opt.verify = true;
			break;
		case 'I':
			opt.interval = atof(optarg);
			break;
		case 'F':
			opt.echo_first = atoi(optarg);
			break;
		case 'D':
			opt.delay = atof(optarg);
			break;
		default:
			usage();
		}
	}
	if (!have_mode || opt.conns < 1 || opt.conns > MAXC || opt.chunk == 0 || opt.count < 1)
		usage();
	if (!opt.server && opt.port <= 0)
		usage();
	return opt.server ? run_server() : run_client();
}
