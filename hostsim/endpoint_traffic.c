/* The host endpoint's bulk traffic on a session's rings: the source's
 * pattern out, the sink's reads (verified with verify), the echo back. */
#include "endpoint_state.h"

#include "iovcopy.h"
#include "log.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Read and count (sink), or read and throw away (the other modes' unused
 * direction), up to EP_BUDGET. */
void endpoint_traffic_drain(struct ep_sess *s, bool count)
{
	struct endpoint *ep = s->ep;
	struct pipe_rx *in = &s->hc->in;
	size_t moved = 0;

	for (;;) {
		vmbus_ring_mask(&s->hc->tx);
		while (moved < EP_BUDGET) {
			struct iovec iov[EP_IOV];
			int niov;
			size_t off = 0;
			size_t want = EP_BUDGET - moved < EP_BATCH ? EP_BUDGET - moved : EP_BATCH;
			ssize_t n = pipe_rx_peekv(in, iov, EP_IOV, &niov, want);
			if (n < 0) {
				log_err("hostsim endpoint: stream from md9 corrupt: %s", in->error);
				endpoint_sess_end(s, "corrupt stream");
				return;
			}
			if (n == 0)
				break;
			/* Copy it out, as a host reading into its own buffer would. */
			for (int i = 0; i < niov; i++) {
				memcpy(ep->buf + off, iov[i].iov_base, iov[i].iov_len);
				off += iov[i].iov_len;
			}
			pipe_rx_consume(in, (size_t)n);
			if (count && ep->verify) {
				for (size_t i = 0; i < (size_t)n; i++) {
					if (ep->buf[i] != endpoint_pattern(s->pos + i)) {
						log_err("hostsim endpoint %u: byte %" PRIu64
						        " is %02x, sent %02x",
						        s->idx, s->pos + i, ep->buf[i],
						        endpoint_pattern(s->pos + i));
						printf("result {\"error\": \"byte %" PRIu64
						       " differs\"}\n",
						       s->pos + i);
						fflush(stdout);
						endpoint_sess_end(s, "wrong byte");
						return;
					}
				}
			}
			s->pos += (uint64_t)n;
			if (count)
				s->bytes += (uint64_t)n;
			moved += (size_t)n;
			if (pipe_rx_commit(in))
				hostchan_signal(s->hc);
			if (s != ep->pinger)
				endpoint_ping_poll(ep);
		}
		if (moved >= EP_BUDGET) {
			endpoint_self_doorbell(s->hc);
			break;
		}
		if (!vmbus_ring_unmask(&s->hc->tx))
			break;
	}
	if (count)
		endpoint_measure_maybe(ep);
}

/* Fill the ring with the pattern, up to EP_BUDGET. */
void endpoint_traffic_source(struct ep_sess *s)
{
	struct pipe_tx *out = &s->hc->out;
	size_t moved = 0;

	while (moved < EP_BUDGET) {
		struct iovec iov[2];
		int niov;
		size_t cap = pipe_tx_reserve(out, PIPE_MAX_DATA, iov, &niov), off = 0;
		if (cap == 0) {
			if (pipe_tx_wait(out, PIPE_MAX_DATA))
				continue;
			return; /* md9 signals once a full packet fits */
		}
		for (int i = 0; i < niov && off < cap; i++) {
			size_t k = iov[i].iov_len < cap - off ? iov[i].iov_len : cap - off;
			memcpy(iov[i].iov_base, s->ep->pattern + ((s->pos + off) & 255), k);
			off += k;
		}
		pipe_tx_put(out, cap);
		s->pos += cap;
		s->bytes += cap;
		moved += cap;
		/* Signals only when md9 sleeps on an empty ring: it starts now. */
		endpoint_commit(s->hc);
		endpoint_ping_poll(s->ep);
	}
	endpoint_self_doorbell(s->hc);
}

/* Copy what md9 sends back into the ring, up to EP_BUDGET. */
void endpoint_traffic_echo(struct ep_sess *s)
{
	struct hostchan *hc = s->hc;
	size_t moved = 0;

	for (;;) {
		vmbus_ring_mask(&hc->tx);
		while (moved < EP_BUDGET) {
			struct iovec src[EP_IOV], dst[2];
			int nsrc, ndst;
			ssize_t n = pipe_rx_peekv(&hc->in, src, EP_IOV, &nsrc, PIPE_MAX_DATA);
			if (n < 0) {
				log_err("hostsim endpoint: stream from md9 corrupt: %s",
				        hc->in.error);
				endpoint_sess_end(s, "corrupt stream");
				return;
			}
			if (n == 0)
				break;
			size_t cap = pipe_tx_reserve(&hc->out, (size_t)n, dst, &ndst);
			if (cap == 0) {
				if (pipe_tx_wait(&hc->out, (size_t)n))
					continue;
				endpoint_commit(hc);
				return; /* md9 signals when it has read enough */
			}
			iovcopy(dst, src, cap);
			pipe_tx_put(&hc->out, cap);
			pipe_rx_consume(&hc->in, cap);
			s->bytes += cap;
			moved += cap;
			endpoint_commit(hc);
		}
		if (moved >= EP_BUDGET) {
			endpoint_self_doorbell(hc);
			return;
		}
		if (!vmbus_ring_unmask(&hc->tx))
			return;
	}
}
