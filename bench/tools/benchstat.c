/* CPU time, the watch file and the result lines (benchstat.h). */
#include "benchstat.h"

#include <dirent.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int64_t benchstat_cpu_ns(int pid)
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

int benchstat_read_watch(const char *file, struct benchstat_watch *w, int max)
{
	int n = 0;
	FILE *f;

	snprintf(w[n].name, sizeof(w[n].name), "self");
	w[n++].pid = getpid();
	if (!file || !file[0] || !(f = fopen(file, "r")))
		return n;
	while (n < max && fscanf(f, "%31s %d", w[n].name, &w[n].pid) == 2)
		n++;
	fclose(f);
	return n;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The p-th percentile of sorted v, in µs (nearest rank). */
static double pct(const uint64_t *v, int n, double p)
{
	return (double)v[(int)(p / 100.0 * (n - 1) + 0.5)] / 1000.0;
}

void benchstat_print_latency(uint64_t *rtt, int n, size_t size)
{
	double sum = 0;

	for (int i = 0; i < n; i++)
		sum += (double)rtt[i];
	qsort(rtt, (size_t)n, sizeof(*rtt), cmp_u64);
	printf("result {\"n\": %d, \"size\": %zu, \"min_us\": %.2f, \"p50_us\": %.2f, "
	       "\"p90_us\": %.2f, \"p99_us\": %.2f, \"p999_us\": %.2f, \"max_us\": %.2f, "
	       "\"mean_us\": %.2f}\n",
	       n, size, pct(rtt, n, 0), pct(rtt, n, 50), pct(rtt, n, 90), pct(rtt, n, 99),
	       pct(rtt, n, 99.9), pct(rtt, n, 100), sum / n / 1000.0);
	fflush(stdout);
}

void benchstat_print_window(double secs, const uint64_t *bytes, int n,
                            const struct benchstat_watch *w, int nw)
{
	uint64_t total = 0;

	printf("result {\"window_s\": %.6f, \"conns\": [", secs);
	for (int i = 0; i < n; i++) {
		total += bytes[i];
		printf("%s{\"bytes\": %" PRIu64 ", \"mbps\": %.3f}", i ? ", " : "", bytes[i],
		       (double)bytes[i] / secs / 1e6);
	}
	printf("], \"bytes\": %" PRIu64 ", \"mbps\": %.3f, \"cpu_s\": {", total,
	       (double)total / secs / 1e6);
	for (int i = 0; i < nw; i++)
		printf("%s\"%s\": %.6f", i ? ", " : "", w[i].name,
		       w[i].t0 < 0 || w[i].t1 < 0 ? -1.0 : (double)(w[i].t1 - w[i].t0) / 1e9);
	printf("}}\n");
	fflush(stdout);
}
