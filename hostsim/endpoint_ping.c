/* The host endpoint's ping session: one message out, its echo back, the
 * round trip timed; the latency percentiles at the end. */
#include "endpoint_state.h"

#include "benchstat.h"
#include "log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

void endpoint_ping_send(struct endpoint *ep)
{
	struct ep_sess *s = ep->pinger;
	uint8_t out[EP_MAX_MSG] = {0};

	out[0] = (uint8_t)ep->ping_i;
	ep->ping_got = 0;
	ep->ping_t0 = timespec_now_ns();
	/* An empty ring always takes one small message. */
	if (pipe_tx_write(&s->hc->out, out, ep->size) != ep->size) {
		endpoint_sess_end(s, "no room for a ping");
		return;
	}
	endpoint_commit(s->hc);
}

/* Read the echo of the ping in flight; send the next one when it is whole. */
void endpoint_ping_pump(struct ep_sess *s)
{
	struct endpoint *ep = s->ep;
	uint8_t in[EP_MAX_MSG];

	for (;;) {
		vmbus_ring_mask(&s->hc->tx);
		ssize_t n = ep->ping_i < ep->count
		                ? pipe_rx_read(&s->hc->in, in, ep->size - ep->ping_got)
		                : 0;
		if (n < 0) {
			log_err("hostsim endpoint: stream from md9 corrupt: %s", s->hc->in.error);
			endpoint_sess_end(s, "corrupt stream");
			return;
		}
		if (n > 0 && ep->ping_got == 0 && in[0] != (uint8_t)ep->ping_i) {
			log_err("hostsim endpoint: ping %d: wrong echo", ep->ping_i);
			endpoint_sess_end(s, "wrong echo");
			return;
		}
		ep->ping_got += (size_t)n;
		if (n > 0 && ep->ping_got == ep->size) {
			uint64_t t = timespec_now_ns() - ep->ping_t0;
			if (ep->ping_i >= 0)
				ep->rtt[ep->ping_i] = t;
			if (ep->slow_ns && t >= ep->slow_ns) {
				/* Where to look in a trace (perf sched timehist). */
				printf("slow %d %" PRIu64 " %" PRIu64 "\n", ep->ping_i, ep->ping_t0,
				       t);
				fflush(stdout);
			}
			if (++ep->ping_i == ep->count)
				benchstat_print_latency(ep->rtt, ep->count, ep->size);
			else
				endpoint_ping_send(ep);
			if (!s->hc)
				return;
			continue;
		}
		if (n > 0)
			continue;
		if (!vmbus_ring_unmask(&s->hc->tx))
			break;
	}
	if (pipe_rx_commit(&s->hc->in))
		hostchan_signal(s->hc);
}

/* A host serves each channel on its own (Hyper-V's side of a channel does
 * not share the guest's vCPUs), so an interactive session must not wait
 * behind the bulk ones here: between two bulk packets, look at the ping
 * session's ring (shared memory, no system call) and answer it at once. */
void endpoint_ping_poll(struct endpoint *ep)
{
	struct ep_sess *p = ep->pinger;

	if (p && p->hc && ep->all_ready && ep->ping_i < ep->count &&
	    __atomic_load_n(&p->hc->tx.ctl->write_index, __ATOMIC_ACQUIRE) != p->hc->tx.rd)
		endpoint_ping_pump(p);
}
