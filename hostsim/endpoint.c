/* md9-hostsim's host endpoint (endpoint.h): its sessions, each one's
 * opening (Connection Request, Confirm, Connect-Initial, Connect-Response),
 * the timer, start and stop. The traffic itself is in endpoint_traffic.c
 * and endpoint_ping.c. */
#include "endpoint_state.h"

#include "log.h"

#include "mcs_seed.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static struct endpoint *the_ep;

static void sess_start(struct endpoint *ep, struct ep_sess *s);
static const struct simdev_ops ep_dev_ops;

/* Every session is in its data phase: pings start, sinks may measure. */
static void all_ready(struct endpoint *ep)
{
	ep->all_ready = true;
	printf("endpoint ready %u\n", ep->n);
	fflush(stdout);
	if (ep->pinger) {
		ep->ping_i = -ep->warm;
		endpoint_ping_send(ep);
	}
	endpoint_measure_maybe(ep);
}

/* The server's Connect-Response arrived: the opening is done. */
static void opening_done(struct ep_sess *s)
{
	struct endpoint *ep = s->ep;

	s->state = ES_DATA;
	ep->ready++;
	if (ep->started < ep->n)
		sess_start(ep, &ep->s[ep->started++]);
	else if (ep->ready == ep->n)
		all_ready(ep);
}

/* The Connection Confirm arrived: the Connect-Initial goes out (hs: and the
 * session ends). */
static void cc_done(struct ep_sess *s)
{
	struct endpoint *ep = s->ep;

	if (pipe_tx_write(&s->hc->out, mcs_seed_connect_initial,
	                  sizeof(mcs_seed_connect_initial)) != sizeof(mcs_seed_connect_initial)) {
		endpoint_sess_end(s, "no room for the Connect-Initial");
		return;
	}
	endpoint_commit(s->hc);
	if (s->mode == EM_HS) {
		printf("hs %d %" PRIu64 " %" PRIu64 "\n", ep->hs_i, s->t_start, timespec_now_ns());
		fflush(stdout);
		endpoint_sess_end(s, "hs: opened and closed");
		if (++ep->hs_i < ep->count)
			endpoint_arm(ep, ep->gap_ms / 1000.0, ET_GAP);
		else
			ep->tstate = ET_DONE;
		return;
	}
	s->state = ES_RESP;
	s->pdulen = 0;
}

/* Read one TPKT from the server (its Connection Confirm, then its MCS
 * Connect-Response): the header, then exactly its length, so that nothing
 * after it is taken; its first bytes are kept in s->pdu. */
static void read_pdu(struct ep_sess *s)
{
	uint8_t skip[4096];

	for (;;) {
		size_t len = s->pdulen >= 4 ? (size_t)s->pdu[2] << 8 | s->pdu[3] : 4;
		size_t want = len - s->pdulen;
		uint8_t *dst = s->pdulen < sizeof(s->pdu) ? s->pdu + s->pdulen : skip;
		ssize_t n;

		if (want == 0) {
			bool cc = s->state == ES_CC;
			/* X.224 CC code 0xd0; MCS Connect-Response 0x7f 0x66. */
			if (cc ? len < 7 || (s->pdu[5] & 0xf0) != 0xd0
			       : len < 9 || s->pdu[7] != 0x7f || s->pdu[8] != 0x66) {
				log_err("hostsim endpoint %u: no %s from the server", s->idx,
				        cc ? "X.224 Connection Confirm" : "MCS Connect-Response");
				endpoint_sess_end(s, "unexpected answer from the server");
				return;
			}
			if (cc)
				cc_done(s);
			else
				opening_done(s);
			return;
		}
		if (dst != skip && want > sizeof(s->pdu) - s->pdulen)
			want = sizeof(s->pdu) - s->pdulen;
		if (dst == skip && want > sizeof(skip))
			want = sizeof(skip);
		vmbus_ring_mask(&s->hc->tx);
		n = pipe_rx_read(&s->hc->in, dst, want);
		if (n < 0) {
			endpoint_sess_end(s, "corrupt stream");
			return;
		}
		s->pdulen += (size_t)n;
		if (s->pdulen == 4 && (s->pdu[0] != 3 || len < 4)) {
			log_err("hostsim endpoint %u: the server's answer is not a TPKT", s->idx);
			endpoint_sess_end(s, "not a TPKT");
			return;
		}
		if (s->pdulen >= 4 && ((size_t)s->pdu[2] << 8 | s->pdu[3]) < 7) {
			log_err("hostsim endpoint %u: a TPKT too short", s->idx);
			endpoint_sess_end(s, "not a TPKT");
			return;
		}
		if (n == 0 && !vmbus_ring_unmask(&s->hc->tx))
			return;
	}
}

static void sess_pump(struct ep_sess *s)
{
	if (!s->hc)
		return;
	/* Woken: whatever we waited for, look again. */
	vmbus_ring_write_unwait(&s->hc->rx);
	while (s->hc && (s->state == ES_CC || s->state == ES_RESP)) {
		enum ep_state before = s->state;
		read_pdu(s);
		if (s->state == before)
			return; /* waiting for more */
	}
	if (!s->hc)
		return;
	if (s->state != ES_DATA)
		return;
	switch (s->mode) {
	case EM_SOURCE:
		endpoint_traffic_source(s);
		if (s->hc)
			endpoint_traffic_drain(s, false);
		break;
	case EM_SINK:
		endpoint_traffic_drain(s, true);
		break;
	case EM_ECHO:
		endpoint_traffic_echo(s);
		break;
	case EM_PING:
		if (s->ep->all_ready)
			endpoint_ping_pump(s);
		else
			vmbus_ring_unmask(&s->hc->tx); /* nothing to read before the first ping */
		break;
	case EM_IDLE:
	case EM_HS:
		endpoint_traffic_drain(s, false);
		break;
	}
	if (s->hc)
		endpoint_commit(s->hc);
}

static void dev_opened(struct simdev *d)
{
	struct ep_sess *s = d->owner;

	s->hc = d->chan;
	s->state = ES_CC;
	s->pdulen = 0;
	if (pipe_tx_write(&s->hc->out, mcs_seed_connection_request,
	                  sizeof(mcs_seed_connection_request)) !=
	    sizeof(mcs_seed_connection_request)) {
		endpoint_sess_end(s, "no room for the Connection Request");
		return;
	}
	endpoint_commit(s->hc);
	sess_pump(s);
}

static void dev_closed(struct simdev *d)
{
	struct ep_sess *s = d->owner;

	struct hostctl_session *hs = s->hs;

	s->hc = NULL;
	if (!hs)
		return; /* we are ending it ourselves */
	log_warn("hostsim endpoint %u (%s): md9 closed the channel", s->idx,
	         endpoint_mode_names[s->mode]);
	s->hs = NULL;
	s->state = ES_GONE;
	hostctl_end_session(hs); /* the rescind happens once this callback returns */
}

static void dev_signalled(struct simdev *d)
{
	sess_pump(d->owner);
}

static const struct simdev_ops ep_dev_ops = {
    .opened = dev_opened,
    .closed = dev_closed,
    .signalled = dev_signalled,
};

static void sess_start(struct endpoint *ep, struct ep_sess *s)
{
	s->state = ES_QUEUED;
	s->pdulen = 0;
	s->t_start = timespec_now_ns();
	s->hs = hostctl_start_session(ep->ctl, &ep_dev_ops, s);
	if (!s->hs) {
		log_err("hostsim endpoint %u: no data instance free (--instances)", s->idx);
		s->state = ES_GONE;
	}
}

static void on_timer(struct ev_handler *h, uint32_t events)
{
	struct endpoint *ep = h->arg;
	uint64_t n;

	if (read(ep->tfd, &n, sizeof(n)) < 0)
		return;
	switch (ep->tstate) {
	case ET_WARMUP:
		endpoint_measure_start(ep);
		break;
	case ET_WINDOW:
		endpoint_measure_end(ep);
		break;
	case ET_GAP:
		ep->tstate = ET_NONE;
		sess_start(ep, &ep->s[0]);
		break;
	default:
		break;
	}
}

int endpoint_start(struct ev_loop *loop, struct hostctl *ctl, const char *spec)
{
	struct endpoint *ep = calloc(1, sizeof(*ep));
	char *copy = strdup(spec);

	if (!ep || !copy)
		goto fail;
	ep->loop = loop;
	ep->ctl = ctl;
	ep->count = 20000;
	ep->warm = 2000;
	ep->size = 64;
	ep->gap_ms = 100;
	ep->warmup = 1.0;
	ep->tfd = -1;
	if (endpoint_spec_parse(ep, copy) < 0) {
		log_err("--endpoint: not a SPEC: %s (MODE[:N],... with MODE source, sink, echo, "
		        "ping, idle or hs; options count=, warm=, size=, gap=, warmup=, window=, "
		        "watch=, verify; see hostsim/endpoint.h)",
		        spec);
		goto fail;
	}
	for (size_t i = 0; i < sizeof(ep->pattern); i++)
		ep->pattern[i] = endpoint_pattern(i);
	if (ep->pinger && !(ep->rtt = calloc((size_t)ep->count, sizeof(*ep->rtt))))
		goto fail;
	ep->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (ep->tfd < 0 || ev_set(loop, &ep->th, ep->tfd, EPOLLIN, on_timer, ep) < 0)
		goto fail;
	free(copy);
	the_ep = ep;
	log_info("hostsim: endpoint %s: %u session(s)", spec, ep->n);
	ep->started = 1;
	sess_start(ep, &ep->s[0]);
	return 0;
fail:
	if (ep && ep->tfd >= 0)
		close(ep->tfd);
	if (ep)
		free(ep->rtt);
	free(ep);
	free(copy);
	return -1;
}

void endpoint_stop(void)
{
	struct endpoint *ep = the_ep;

	if (!ep)
		return;
	for (unsigned i = 0; i < ep->n; i++)
		if (ep->s[i].hs)
			endpoint_sess_end(&ep->s[i], "md9-hostsim is stopping");
	ev_del(ep->loop, &ep->th);
	close(ep->tfd);
	free(ep->rtt);
	free(ep);
	the_ep = NULL;
}
