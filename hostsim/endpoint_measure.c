/* The host endpoint's sink measurement: after the warm-up, a window of
 * bytes per session and the CPU time of the watched processes. */
#include "endpoint_state.h"

#include "benchstat.h"

#include <stdio.h>

void endpoint_measure_start(struct endpoint *ep)
{
	ep->nw = benchstat_read_watch(ep->watch, ep->w, (int)(sizeof(ep->w) / sizeof(ep->w[0])));
	for (int i = 0; i < ep->nw; i++)
		ep->w[i].t0 = benchstat_cpu_ns(ep->w[i].pid);
	ep->t0 = timespec_now_ns();
	for (unsigned i = 0; i < ep->n; i++)
		ep->b0[i] = ep->s[i].bytes;
	endpoint_arm(ep, ep->window, ET_WINDOW);
}

void endpoint_measure_end(struct endpoint *ep)
{
	uint64_t t1 = timespec_now_ns(), moved[EP_MAX_SESSIONS];
	int k = 0;

	for (unsigned i = 0; i < ep->n; i++)
		if (ep->s[i].mode == EM_SINK)
			moved[k++] = ep->s[i].bytes - ep->b0[i];
	for (int i = 0; i < ep->nw; i++)
		ep->w[i].t1 = benchstat_cpu_ns(ep->w[i].pid);
	benchstat_print_window((double)(t1 - ep->t0) / 1e9, moved, k, ep->w, ep->nw);
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
