/* md9bench's ping-pong: round trips timed, latency percentiles printed. */
#include "md9bench.h"

#include "benchstat.h"

#include <stdlib.h>

/* Ping-pong on a connected, opened connection: --size bytes out, as many
 * back; --warm-count, then --count measured. Prints the result line. */
int md9bench_ping(struct conn *c)
{
	uint8_t out[4096] = {0}, in[4096];
	uint64_t *rtt;

	if (md9bench_opt.msg > sizeof(out))
		md9bench_die("--size at most %zu", sizeof(out));
	rtt = malloc(sizeof(*rtt) * (size_t)md9bench_opt.count);
	if (!rtt)
		md9bench_die("out of memory");
	/* Bytes that came with the handshake would be mistaken for an echo. */
	if (c->rlen)
		md9bench_die("ping-pong: %zu unexpected bytes after the opening", c->rlen);
	for (int i = -md9bench_opt.warm_count; i < md9bench_opt.count; i++) {
		uint64_t t = timespec_now_ns();
		out[0] = (uint8_t)i;
		if (md9bench_net_write_full(c->fd, out, md9bench_opt.msg) < 0 ||
		    md9bench_net_read_full(c->fd, in, md9bench_opt.msg) < 0)
			md9bench_die("ping-pong broke at %d", i);
		if (in[0] != out[0])
			md9bench_die("ping-pong: wrong echo");
		if (i >= 0)
			rtt[i] = timespec_now_ns() - t;
	}
	benchstat_print_latency(rtt, md9bench_opt.count, md9bench_opt.msg);
	free(rtt);
	return 0;
}
