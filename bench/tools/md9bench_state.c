/* What every part of md9bench uses (md9bench.h): the options, the
 * connections, sleeping and dying with a message. md9bench.c
 * (the command line) and the parts call down to it; it calls none of
 * them. */
#include "md9bench.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct md9bench_opts md9bench_opt = {.conns = 1,
                                     .warmup = 1.0,
                                     .window = 3.0,
                                     .hold = 30.0,
                                     .chunk = DEFAULT_CHUNK,
                                     .count = 20000,
                                     .warm_count = 2000,
                                     .msg = 64,
                                     .gap_ms = 100,
                                     .handshake = true};
struct conn md9bench_conns[MAXC];
_Atomic int md9bench_nconns, md9bench_nready;

void md9bench_sleep_s(double s)
{
	struct timespec t = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};

	while (nanosleep(&t, &t) < 0 && errno == EINTR)
		;
}

void md9bench_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "md9bench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}
