/* md9bench server: the fake RDP server, a thread per connection. */
#include "md9bench.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void *server_conn(void *arg)
{
	struct conn *c = arg;

	if (!md9bench_opt.handshake || md9bench_opening_server(c) == 0) {
		/* --echo-first: the first connections are interactive ones. */
		switch ((long)(c - md9bench_conns) < md9bench_opt.echo_first ? M_ECHO
		                                                             : md9bench_opt.mode) {
		case M_PING:
			md9bench_ping(c);
			break;
		case M_SINK:
		case M_SOURCE:
			md9bench_bulk_add(c, true);
			return NULL;
		case M_ECHO:
			md9bench_bulk_echo(c);
			break;
		default:
			md9bench_bulk_hold(c);
			break;
		}
	}
	close(c->fd);
	return NULL;
}

int md9bench_server_run(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
	                         .sin_port = htons((uint16_t)md9bench_opt.port),
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int one = 1, lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	pthread_t th;

	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 64) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &len) < 0)
		md9bench_die("listen: %s", strerror(errno));
	printf("listening %d\n", ntohs(sa.sin_port));
	fflush(stdout);
	if (md9bench_opt.mode == M_SINK && pthread_create(&th, NULL, md9bench_measure, NULL) != 0)
		md9bench_die("thread");
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		uint64_t t = timespec_now_ns();
		int i;
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			md9bench_die("accept: %s", strerror(errno));
		}
		i = atomic_load(&md9bench_nconns);
		printf("accept %d %" PRIu64 "\n", i, t);
		fflush(stdout);
		if (i == MAXC) {
			close(fd);
			continue;
		}
		md9bench_net_nodelay(fd);
		md9bench_conns[i].fd = fd;
		md9bench_conns[i].rbuf = malloc(TPKT_MAX + 1);
		atomic_store(&md9bench_nconns, i + 1);
		if (pthread_create(&th, NULL, server_conn, &md9bench_conns[i]) != 0)
			md9bench_die("thread");
		pthread_detach(th);
	}
}
