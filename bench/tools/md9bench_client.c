/* md9bench client: the host-side client's connections and modes. */
#include "md9bench.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int client_connect(struct conn *c)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
	                         .sin_port = htons((uint16_t)md9bench_opt.port),
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	md9bench_net_nodelay(c->fd);
	c->rlen = 0;
	if (!c->rbuf)
		c->rbuf = malloc(TPKT_MAX + 1);
	return md9bench_opt.handshake ? md9bench_opening_client(c) : 0;
}

static void *client_conn(void *arg)
{
	struct conn *c = arg;

	if (client_connect(c) < 0) {
		fprintf(stderr, "md9bench client: connection %ld failed: %s\n",
		        (long)(c - md9bench_conns), strerror(errno));
		exit(1);
	}
	atomic_fetch_add(&md9bench_nready, 1);
	switch (md9bench_opt.mode) {
	case M_SINK:
		md9bench_bulk_add(c, true);
		break;
	case M_SOURCE:
		md9bench_bulk_add(c, false); /* run_client serves them */
		break;
	default:
		md9bench_bulk_hold(c);
		break;
	}
	return NULL;
}

static int run_ping(void)
{
	struct conn *c = &md9bench_conns[0];

	if (client_connect(c) < 0)
		md9bench_die("connect: %s", strerror(errno));
	if (md9bench_opt.delay > 0)
		md9bench_sleep_s(
		    md9bench_opt.delay); /* e.g. until other connections carry a load */
	return md9bench_ping(c);
}

/* hs: connect, handshake, close; --count times, --gap-ms apart. */
static int run_hs(void)
{
	for (int i = 0; i < md9bench_opt.count; i++) {
		struct conn *c = &md9bench_conns[0];
		uint64_t t0 = timespec_now_ns(), t1;
		if (client_connect(c) < 0)
			md9bench_die("session %d: connect/handshake failed", i);
		t1 = timespec_now_ns();
		close(c->fd);
		printf("hs %d %" PRIu64 " %" PRIu64 "\n", i, t0, t1);
		fflush(stdout);
		md9bench_sleep_s(md9bench_opt.gap_ms / 1000.0);
	}
	return 0;
}

int md9bench_client_run(void)
{
	pthread_t th[MAXC];

	if (md9bench_opt.mode == M_PING)
		return run_ping();
	if (md9bench_opt.mode == M_HS)
		return run_hs();
	if (md9bench_opt.conns > MAXC)
		md9bench_die("at most %d connections", MAXC);
	for (int i = 0; i < md9bench_opt.conns; i++)
		if (pthread_create(&th[i], NULL, client_conn, &md9bench_conns[i]) != 0)
			md9bench_die("thread");
	atomic_store(&md9bench_nconns, md9bench_opt.conns);
	if (md9bench_opt.mode == M_SINK)
		md9bench_measure(NULL); /* exits */
	if (md9bench_opt.mode == M_IDLE) {
		uint64_t deadline = timespec_now_ns() + 30000000000ull;
		while (atomic_load(&md9bench_nready) < md9bench_opt.conns) {
			if (timespec_now_ns() > deadline)
				md9bench_die("only %d of %d sessions came up",
				             atomic_load(&md9bench_nready), md9bench_opt.conns);
			md9bench_sleep_s(0.002);
		}
		printf("ready %d\n", md9bench_opt.conns);
		fflush(stdout);
		/* Hold until --hold passes or standard input closes. */
		struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
		poll(&p, 1, (int)(md9bench_opt.hold * 1000));
		return 0;
	}
	for (int i = 0; i < md9bench_opt.conns; i++)
		pthread_join(th[i], NULL);
	if (md9bench_opt.mode == M_SOURCE)
		md9bench_bulk_serve(); /* until every connection is gone */
	return 0;
}
