/* The numbers md9's benchmark ends measure and the result lines they print,
 * shared by md9bench and md9-hostsim's host endpoint (hostsim/endpoint.h)
 * so that bench/bench.py reads one format from both:
 *   result {"n": N, "size": B, "min_us": ..., "p50_us": ..., "p90_us": ...,
 *           "p99_us": ..., "p999_us": ..., "max_us": ..., "mean_us": ...}
 *   result {"window_s": S, "conns": [{"bytes": B, "mbps": M}, ...],
 *           "bytes": B, "mbps": M, "cpu_s": {"NAME": S, ...}}
 * (mbps: 10^6 bytes per second; cpu_s -1 for a process that was gone). */
#ifndef MD9_BENCHSTAT_H
#define MD9_BENCHSTAT_H

#include <stddef.h>
#include <stdint.h>

/* A process whose CPU time a window reports. */
struct benchstat_watch {
	char name[32];
	int pid;
	int64_t t0, t1; /* benchstat_cpu_ns at the window's start and end */
};

/* Every thread's time on a CPU (schedstat, ns; the stat ticks where there
 * is no schedstat), -1 when pid is gone. */
int64_t benchstat_cpu_ns(int pid);
/* "self" (this process), then the "NAME PID" lines of file (none when file
 * is NULL or "" or cannot be read); at most max. Returns how many. */
int benchstat_read_watch(const char *file, struct benchstat_watch *w, int max);
/* Sorts rtt (n round trips of size bytes, ns) and prints its result line. */
void benchstat_print_latency(uint64_t *rtt, int n, size_t size);
/* The window's result line: bytes[i] moved by each of n connections in
 * secs seconds, and the CPU time of the nw watched processes. */
void benchstat_print_window(double secs, const uint64_t *bytes, int n,
                            const struct benchstat_watch *w, int nw);

#endif
