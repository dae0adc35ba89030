/* md9bench's sink measurement: bytes per connection over the window and
 * the CPU time of the watched processes. */
#include "md9bench.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
	if (!md9bench_opt.watch || !(f = fopen(md9bench_opt.watch, "r")))
		return n;
	while (n < max && fscanf(f, "%31s %d", w[n].name, &w[n].pid) == 2)
		n++;
	fclose(f);
	return n;
}

/* The sink's measurement: wait for opt.conns payload-carrying connections,
 * warm up, then count over the window. Prints the result and exits. */
void *md9bench_measure(void *arg)
{
	struct watched w[16];
	uint64_t b0[MAXC], b1[MAXC], t0, t1, deadline = md9bench_now_ns() + 30000000000ull;
	int n, nw;

	for (;;) {
		int ready = 0;
		n = atomic_load(&md9bench_nconns);
		for (int i = 0; i < n; i++)
			ready += atomic_load(&md9bench_conns[i].first_ns) != 0;
		if (ready >= md9bench_opt.conns)
			break;
		if (md9bench_now_ns() > deadline) {
			printf("result {\"error\": \"only %d of %d connections carried data\"}\n",
			       ready, md9bench_opt.conns);
			fflush(stdout);
			_exit(1);
		}
		md9bench_sleep_s(0.005);
	}
	md9bench_sleep_s(md9bench_opt.warmup);
	nw = read_watch(w, 16);
	n = atomic_load(&md9bench_nconns);
	for (int i = 0; i < nw; i++)
		w[i].t0 = cpu_ns(w[i].pid);
	t0 = md9bench_now_ns();
	for (int i = 0; i < n; i++)
		b0[i] = atomic_load(&md9bench_conns[i].bytes);
	if (md9bench_opt.interval > 0) {
		/* Progress per interval, per connection (how evenly they share over time). */
		uint64_t prev[MAXC], cur, tp = t0;
		memcpy(prev, b0, sizeof(prev));
		while (md9bench_now_ns() - t0 + (uint64_t)(md9bench_opt.interval * 1e9) <=
		       (uint64_t)(md9bench_opt.window * 1e9)) {
			md9bench_sleep_s(md9bench_opt.interval);
			uint64_t t = md9bench_now_ns();
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
		double rest = md9bench_opt.window - (double)(md9bench_now_ns() - t0) / 1e9;
		if (rest > 0)
			md9bench_sleep_s(rest);
	} else {
		md9bench_sleep_s(md9bench_opt.window);
	}
	for (int i = 0; i < n; i++)
		b1[i] = atomic_load(&md9bench_conns[i].bytes);
	t1 = md9bench_now_ns();
	for (int i = 0; i < nw; i++)
		w[i].t1 = cpu_ns(w[i].pid);

	double secs = (double)(t1 - t0) / 1e9;
	uint64_t total = 0;
	printf("result {\"window_s\": %.6f, \"conns\": [", secs);
	for (int i = 0, k = 0; i < n; i++) {
		if (atomic_load(&md9bench_conns[i].first_ns) == 0)
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
