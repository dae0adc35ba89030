/* The host endpoint's sink measurement: after the warm-up, a window of
 * bytes per session and the CPU time of the watched processes. */
#include "endpoint_state.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

/* Every thread's time on a CPU (schedstat, ns), -1 when pid is gone. */
static int64_t cpu_ns(int pid)
{
	char path[64];
	DIR *d;
	struct dirent *e;
	int64_t sum = 0;

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
		if (!f)
			continue;
		if (fscanf(f, "%llu", &ns) == 1)
			sum += (int64_t)ns;
		fclose(f);
	}
	closedir(d);
	return sum;
}

static void read_watch(struct endpoint *ep)
{
	FILE *f;

	ep->nw = 0;
	snprintf(ep->w[0].name, sizeof(ep->w[0].name), "self");
	ep->w[ep->nw++].pid = getpid();
	if (!ep->watch[0] || !(f = fopen(ep->watch, "r")))
		return;
	while (ep->nw < 16 && fscanf(f, "%31s %d", ep->w[ep->nw].name, &ep->w[ep->nw].pid) == 2)
		ep->nw++;
	fclose(f);
}

void endpoint_measure_start(struct endpoint *ep)
{
	read_watch(ep);
	for (int i = 0; i < ep->nw; i++)
		ep->w[i].t0 = cpu_ns(ep->w[i].pid);
	ep->t0 = endpoint_now_ns();
	for (unsigned i = 0; i < ep->n; i++)
		ep->b0[i] = ep->s[i].bytes;
	endpoint_arm(ep, ep->window, ET_WINDOW);
}

void endpoint_measure_end(struct endpoint *ep)
{
	uint64_t t1 = endpoint_now_ns(), total = 0;
	double secs = (double)(t1 - ep->t0) / 1e9;
	int k = 0;

	printf("result {\"window_s\": %.6f, \"conns\": [", secs);
	for (unsigned i = 0; i < ep->n; i++) {
		struct ep_sess *s = &ep->s[i];
		uint64_t b = s->bytes - ep->b0[i];
		if (s->mode != EM_SINK)
			continue;
		total += b;
		printf("%s{\"bytes\": %" PRIu64 ", \"mbps\": %.3f}", k++ ? ", " : "", b,
		       (double)b / secs / 1e6);
	}
	printf("], \"bytes\": %" PRIu64 ", \"mbps\": %.3f, \"cpu_s\": {", total,
	       (double)total / secs / 1e6);
	for (int i = 0; i < ep->nw; i++) {
		int64_t t = cpu_ns(ep->w[i].pid);
		printf("%s\"%s\": %.6f", i ? ", " : "", ep->w[i].name,
		       t < 0 || ep->w[i].t0 < 0 ? -1.0 : (double)(t - ep->w[i].t0) / 1e9);
	}
	printf("}}\n");
	fflush(stdout);
	ep->tstate = ET_DONE;
}

/* The window starts once every sink carries data, after the warm-up. */
void endpoint_measure_maybe(struct endpoint *ep)
{
	bool any = false;

	if (ep->tstate != ET_NONE || ep->window <= 0 || !ep->all_ready)
		return;
	for (unsigned i = 0; i < ep->n; i++) {
		if (ep->s[i].mode != EM_SINK)
			continue;
		if (ep->s[i].bytes == 0)
			return;
		any = true;
	}
	if (any)
		endpoint_arm(ep, ep->warmup, ET_WARMUP);
}
