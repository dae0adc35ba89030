/* md9bench's ping-pong: round trips timed, latency percentiles printed. */
#include "md9bench.h"

#include <stdio.h>
#include <stdlib.h>

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
int md9bench_ping(struct conn *c)
{
	uint8_t out[4096] = {0}, in[4096];
	uint64_t *rtt;
	double sum = 0;

	if (md9bench_opt.msg > sizeof(out))
		md9bench_die("--size at most %zu", sizeof(out));
	rtt = malloc(sizeof(*rtt) * (size_t)md9bench_opt.count);
	if (!rtt)
		md9bench_die("out of memory");
	/* Bytes that came with the handshake would be mistaken for an echo. */
	if (c->rlen)
		md9bench_die("ping-pong: %zu unexpected bytes after the opening", c->rlen);
	for (int i = -md9bench_opt.warm_count; i < md9bench_opt.count; i++) {
		uint64_t t = md9bench_now_ns();
		out[0] = (uint8_t)i;
		if (md9bench_net_write_full(c->fd, out, md9bench_opt.msg) < 0 ||
		    md9bench_net_read_full(c->fd, in, md9bench_opt.msg) < 0)
			md9bench_die("ping-pong broke at %d", i);
		if (in[0] != out[0])
			md9bench_die("ping-pong: wrong echo");
		if (i >= 0)
			rtt[i] = md9bench_now_ns() - t;
	}
	for (int i = 0; i < md9bench_opt.count; i++)
		sum += (double)rtt[i];
	qsort(rtt, (size_t)md9bench_opt.count, sizeof(*rtt), cmp_u64);
	printf("result {\"n\": %d, \"size\": %zu, \"min_us\": %.2f, \"p50_us\": %.2f, \"p90_us\": "
	       "%.2f, "
	       "\"p99_us\": %.2f, \"p999_us\": %.2f, \"max_us\": %.2f, \"mean_us\": %.2f}\n",
	       md9bench_opt.count, md9bench_opt.msg, pct(rtt, md9bench_opt.count, 0),
	       pct(rtt, md9bench_opt.count, 50), pct(rtt, md9bench_opt.count, 90),
	       pct(rtt, md9bench_opt.count, 99), pct(rtt, md9bench_opt.count, 99.9),
	       pct(rtt, md9bench_opt.count, 100), sum / md9bench_opt.count / 1000.0);
	fflush(stdout);
	free(rtt);
	return 0;
}
