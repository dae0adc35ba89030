/* md9bench's sink measurement: bytes per connection over the window and
 * the CPU time of the watched processes. */
#include "md9bench.h"

#include "benchstat.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The sink's measurement: wait for opt.conns payload-carrying connections,
 * warm up, then count over the window. Prints the result and exits. */
void *md9bench_measure(void *arg)
{
	struct benchstat_watch w[16];
	uint64_t b0[MAXC], b1[MAXC], t0, t1, deadline = timespec_now_ns() + 30000000000ull;
	int n, nw;

	for (;;) {
		int ready = 0;
		n = atomic_load(&md9bench_nconns);
		for (int i = 0; i < n; i++)
			ready += atomic_load(&md9bench_conns[i].first_ns) != 0;
		if (ready >= md9bench_opt.conns)
			break;
		if (timespec_now_ns() > deadline) {
			printf("result {\"error\": \"only %d of %d connections carried data\"}\n",
			       ready, md9bench_opt.conns);
			fflush(stdout);
			_exit(1);
		}
		md9bench_sleep_s(0.005);
	}
	md9bench_sleep_s(md9bench_opt.warmup);
	nw = benchstat_read_watch(md9bench_opt.watch, w, (int)(sizeof(w) / sizeof(w[0])));
	n = atomic_load(&md9bench_nconns);
	for (int i = 0; i < nw; i++)
		w[i].t0 = benchstat_cpu_ns(w[i].pid);
	t0 = timespec_now_ns();
	for (int i = 0; i < n; i++)
		b0[i] = atomic_load(&md9bench_conns[i].bytes);
	if (md9bench_opt.interval > 0) {
		/* Progress per interval, per connection (how evenly they share over time). */
		uint64_t prev[MAXC], cur, tp = t0;
		memcpy(prev, b0, sizeof(prev));
		while (timespec_now_ns() - t0 + (uint64_t)(md9bench_opt.interval * 1e9) <=
		       (uint64_t)(md9bench_opt.window * 1e9)) {
			md9bench_sleep_s(md9bench_opt.interval);
			uint64_t t = timespec_now_ns();
			printf("tick %.3f", (double)(t - t0) / 1e9);
			for (int i = 0; i < n; i++) {
				cur = atomic_load(&md9bench_conns[i].bytes);
				printf(" %.0f",
				       (double)(cur - prev[i]) / ((double)(t - tp) / 1e9) / 1e6);
				prev[i] = cur;
			}
			printf("\n");
			fflush(stdout);
			tp = t;
		}
		double rest = md9bench_opt.window - (double)(timespec_now_ns() - t0) / 1e9;
		if (rest > 0)
			md9bench_sleep_s(rest);
	} else {
		md9bench_sleep_s(md9bench_opt.window);
	}
	for (int i = 0; i < n; i++)
		b1[i] = atomic_load(&md9bench_conns[i].bytes);
	t1 = timespec_now_ns();
	for (int i = 0; i < nw; i++)
		w[i].t1 = benchstat_cpu_ns(w[i].pid);

	uint64_t moved[MAXC];
	int k = 0;
	for (int i = 0; i < n; i++)
		if (atomic_load(&md9bench_conns[i].first_ns) != 0)
			moved[k++] = b1[i] - b0[i];
	benchstat_print_window((double)(t1 - t0) / 1e9, moved, k, w, nw);
	_exit(0);
	return arg;
}
