#include "endpoint.h"

#include "log.h"

#include "mcs_seed.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define EP_MAX_SESSIONS 64
/* Bytes one session moves per wake-up before the others get their turn (its
 * own doorbell brings it back): 16 pipe packets. */
#define EP_BUDGET (256u << 10)
#define EP_IOV    64
/* Bytes a sink copies out between two looks at the ping session. */
#define EP_BATCH   (64u << 10)
#define EP_MAX_MSG 4096

enum ep_mode { EM_SOURCE, EM_SINK, EM_ECHO, EM_PING, EM_IDLE, EM_HS };
static const char *const ep_mode_names[] = {"source", "sink", "echo", "ping", "idle", "hs"};

enum ep_state {
	ES_UNUSED,
	ES_QUEUED, /* CreateSession sent (or queued); waiting for md9 to open the channel */
	ES_CC,     /* Connection Request written; reading the Connection Confirm */
	ES_RESP,   /* Connect-Initial written; reading the server's Connect-Response */
	ES_DATA,   /* the opening is done: the mode's traffic */
	ES_GONE,   /* closed */
};

struct ep_sess {
	struct endpoint *ep;
	unsigned idx;
	enum ep_mode mode;
	enum ep_state state;
	struct hostctl_session *hs;
	struct hostchan *hc;
	uint8_t pdu[16]; /* the first bytes of the server's CC, then Connect-Response */
	size_t pdulen;   /* bytes of that TPKT read so far */
	uint64_t t_start;
	uint64_t bytes; /* data-phase bytes read (sink), written (source) or echoed */
	uint64_t pos;   /* source: stream offset of the next byte; sink: of the next one read */
};

struct ep_watch {
	char name[32];
	int pid;
	int64_t t0;
};

struct endpoint {
	struct ev_loop *loop;
	struct hostctl *ctl;
	struct ep_sess s[EP_MAX_SESSIONS];
	unsigned n;       /* sessions (hs: the one slot it reuses) */
	unsigned started; /* sessions started so far, in order */
	unsigned ready;   /* sessions in their data phase */
	bool all_ready;

	/* Options. */
	int count, warm, gap_ms;
	uint64_t slow_ns; /* ping: report round trips at least this long */
	size_t size;
	double warmup, window;
	char watch[256];
	bool verify;

	/* Timer: hs gaps, the sink's warm-up and window. */
	int tfd;
	struct ev_handler th;
	enum { ET_NONE, ET_WARMUP, ET_WINDOW, ET_GAP, ET_DONE } tstate;
	uint64_t t0, b0[EP_MAX_SESSIONS];
	struct ep_watch w[16];
	int nw;

	/* ping */
	struct ep_sess *pinger;
	int ping_i;
	size_t ping_got;
	uint64_t ping_t0;
	uint64_t *rtt;

	/* hs */
	int hs_i;

	uint8_t pattern[PIPE_MAX_DATA + 256]; /* the source's stream from any offset mod 256 */
	uint8_t buf[EP_BUDGET];               /* where the sink copies what it reads */
};

static struct endpoint *the_ep;

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* Byte i of a source's stream (md9bench's pattern). */
static uint8_t ep_pattern(uint64_t i)
{
	return (uint8_t)(i * 131u + 7u);
}

static void arm(struct endpoint *ep, double s, int what)
{
	struct itimerspec its = {0};
	uint64_t ns = (uint64_t)(s * 1e9);

	if (ns == 0)
		ns = 1;
	its.it_value.tv_sec = (time_t)(ns / 1000000000u);
	its.it_value.tv_nsec = (long)(ns % 1000000000u);
	ep->tstate = what;
	timerfd_settime(ep->tfd, 0, &its, NULL);
}

/* ---- CPU time (the sink's measurement) ---- */

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

static void measure_start(struct endpoint *ep)
{
	read_watch(ep);
	for (int i = 0; i < ep->nw; i++)
		ep->w[i].t0 = cpu_ns(ep->w[i].pid);
	ep->t0 = now_ns();
	for (unsigned i = 0; i < ep->n; i++)
		ep->b0[i] = ep->s[i].bytes;
	arm(ep, ep->window, ET_WINDOW);
}

static void measure_end(struct endpoint *ep)
{
	uint64_t t1 = now_ns(), total = 0;
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
static void maybe_measure(struct endpoint *ep)
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
		arm(ep, ep->warmup, ET_WARMUP);
}

/* ---- sessions ---- */

static void sess_end(struct ep_sess *s, const char *why)
{
	struct hostctl_session *hs = s->hs;

	if (s->state != ES_GONE)
		log_info("hostsim endpoint %u (%s): closed (%s): %" PRIu64 " data bytes", s->idx,
		         ep_mode_names[s->mode], why, s->bytes);
	s->state = ES_GONE;
	s->hs = NULL;
	s->hc = NULL;
	if (hs)
		hostctl_end_session(hs); /* rescinds; our closed() sees s->hs == NULL */
}

static void self_doorbell(struct hostchan *hc)
{
	uint64_t one = 1;

	/* Come back after the other sessions and the bus (level-triggered). */
	if (write(hc->from_guest, &one, sizeof(one)) < 0)
		log_warn("hostsim endpoint: self doorbell: %s", strerror(errno));
}

static void commit(struct hostchan *hc)
{
	bool kick = pipe_tx_commit(&hc->out);

	kick |= pipe_rx_commit(&hc->in); /* both must run: no || */
	if (kick)
		hostchan_signal(hc);
}

static void ping_send(struct endpoint *ep)
{
	struct ep_sess *s = ep->pinger;
	uint8_t out[EP_MAX_MSG] = {0};

	out[0] = (uint8_t)ep->ping_i;
	ep->ping_got = 0;
	ep->ping_t0 = now_ns();
	/* An empty ring always takes one small message. */
	if (pipe_tx_write(&s->hc->out, out, ep->size) != ep->size) {
		sess_end(s, "no room for a ping");
		return;
	}
	commit(s->hc);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double pct(const uint64_t *v, int n, double p)
{
	return (double)v[(int)(p / 100.0 * (n - 1) + 0.5)] / 1000.0;
}

static void ping_result(struct endpoint *ep)
{
	double sum = 0;
	int n = ep->count;

	for (int i = 0; i < n; i++)
		sum += (double)ep->rtt[i];
	qsort(ep->rtt, (size_t)n, sizeof(*ep->rtt), cmp_u64);
	printf("result {\"n\": %d, \"size\": %zu, \"min_us\": %.2f, \"p50_us\": %.2f, "
	       "\"p90_us\": %.2f, \"p99_us\": %.2f, \"p999_us\": %.2f, \"max_us\": %.2f, "
	       "\"mean_us\": %.2f}\n",
	       n, ep->size, pct(ep->rtt, n, 0), pct(ep->rtt, n, 50), pct(ep->rtt, n, 90),
	       pct(ep->rtt, n, 99), pct(ep->rtt, n, 99.9), pct(ep->rtt, n, 100), sum / n / 1000.0);
	fflush(stdout);
}

/* Read the echo of the ping in flight; send the next one when it is whole. */
static void ping_pump(struct ep_sess *s)
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
			sess_end(s, "corrupt stream");
			return;
		}
		if (n > 0 && ep->ping_got == 0 && in[0] != (uint8_t)ep->ping_i) {
			log_err("hostsim endpoint: ping %d: wrong echo", ep->ping_i);
			sess_end(s, "wrong echo");
			return;
		}
		ep->ping_got += (size_t)n;
		if (n > 0 && ep->ping_got == ep->size) {
			uint64_t t = now_ns() - ep->ping_t0;
			if (ep->ping_i >= 0)
				ep->rtt[ep->ping_i] = t;
			if (ep->slow_ns && t >= ep->slow_ns) {
				/* Where to look in a trace (perf sched timehist). */
				printf("slow %d %" PRIu64 " %" PRIu64 "\n", ep->ping_i, ep->ping_t0,
				       t);
				fflush(stdout);
			}
			if (++ep->ping_i == ep->count)
				ping_result(ep);
			else
				ping_send(ep);
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
static void ping_poll(struct endpoint *ep)
{
	struct ep_sess *p = ep->pinger;

	if (p && p->hc && ep->all_ready && ep->ping_i < ep->count &&
	    __atomic_load_n(&p->hc->tx.ctl->write_index, __ATOMIC_ACQUIRE) != p->hc->tx.rd)
		ping_pump(p);
}

/* Read and count (sink), or read and throw away (the other modes' unused
 * direction), up to EP_BUDGET. */
static void drain(struct ep_sess *s, bool count)
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
				sess_end(s, "corrupt stream");
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
					if (ep->buf[i] != ep_pattern(s->pos + i)) {
						log_err("hostsim endpoint %u: byte %" PRIu64
						        " is %02x, sent %02x",
						        s->idx, s->pos + i, ep->buf[i],
						        ep_pattern(s->pos + i));
						printf("result {\"error\": \"byte %" PRIu64
						       " differs\"}\n",
						       s->pos + i);
						fflush(stdout);
						sess_end(s, "wrong byte");
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
				ping_poll(ep);
		}
		if (moved >= EP_BUDGET) {
			self_doorbell(s->hc);
			break;
		}
		if (!vmbus_ring_unmask(&s->hc->tx))
			break;
	}
	if (count)
		maybe_measure(ep);
}

/* Fill the ring with the pattern, up to EP_BUDGET. */
static void source(struct ep_sess *s)
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
		commit(s->hc);
		ping_poll(s->ep);
	}
	self_doorbell(s->hc);
}

/* Copy what md9 sends back into the ring, up to EP_BUDGET. */
static void echo(struct ep_sess *s)
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
				sess_end(s, "corrupt stream");
				return;
			}
			if (n == 0)
				break;
			size_t cap = pipe_tx_reserve(&hc->out, (size_t)n, dst, &ndst);
			if (cap == 0) {
				if (pipe_tx_wait(&hc->out, (size_t)n))
					continue;
				commit(hc);
				return; /* md9 signals when it has read enough */
			}
			size_t done = 0, si = 0, so = 0, di = 0, dof = 0;
			while (done < cap) {
				size_t k = src[si].iov_len - so;
				if (k > dst[di].iov_len - dof)
					k = dst[di].iov_len - dof;
				if (k > cap - done)
					k = cap - done;
				memcpy((uint8_t *)dst[di].iov_base + dof,
				       (uint8_t *)src[si].iov_base + so, k);
				done += k;
				so += k;
				dof += k;
				if (so == src[si].iov_len) {
					si++;
					so = 0;
				}
				if (dof == dst[di].iov_len) {
					di++;
					dof = 0;
				}
			}
			pipe_tx_put(&hc->out, cap);
			pipe_rx_consume(&hc->in, cap);
			s->bytes += cap;
			moved += cap;
			commit(hc);
		}
		if (moved >= EP_BUDGET) {
			self_doorbell(hc);
			return;
		}
		if (!vmbus_ring_unmask(&hc->tx))
			return;
	}
}

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
		ping_send(ep);
	}
	maybe_measure(ep);
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
		sess_end(s, "no room for the Connect-Initial");
		return;
	}
	commit(s->hc);
	if (s->mode == EM_HS) {
		printf("hs %d %" PRIu64 " %" PRIu64 "\n", ep->hs_i, s->t_start, now_ns());
		fflush(stdout);
		sess_end(s, "hs: opened and closed");
		if (++ep->hs_i < ep->count)
			arm(ep, ep->gap_ms / 1000.0, ET_GAP);
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
				sess_end(s, "unexpected answer from the server");
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
			sess_end(s, "corrupt stream");
			return;
		}
		s->pdulen += (size_t)n;
		if (s->pdulen == 4 && (s->pdu[0] != 3 || len < 4)) {
			log_err("hostsim endpoint %u: the server's answer is not a TPKT", s->idx);
			sess_end(s, "not a TPKT");
			return;
		}
		if (s->pdulen >= 4 && ((size_t)s->pdu[2] << 8 | s->pdu[3]) < 7) {
			log_err("hostsim endpoint %u: a TPKT too short", s->idx);
			sess_end(s, "not a TPKT");
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
		source(s);
		if (s->hc)
			drain(s, false);
		break;
	case EM_SINK:
		drain(s, true);
		break;
	case EM_ECHO:
		echo(s);
		break;
	case EM_PING:
		if (s->ep->all_ready)
			ping_pump(s);
		else
			vmbus_ring_unmask(&s->hc->tx); /* nothing to read before the first ping */
		break;
	case EM_IDLE:
	case EM_HS:
		drain(s, false);
		break;
	}
	if (s->hc)
		commit(s->hc);
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
		sess_end(s, "no room for the Connection Request");
		return;
	}
	commit(s->hc);
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
	         ep_mode_names[s->mode]);
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
	s->t_start = now_ns();
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
		measure_start(ep);
		break;
	case ET_WINDOW:
		measure_end(ep);
		break;
	case ET_GAP:
		ep->tstate = ET_NONE;
		sess_start(ep, &ep->s[0]);
		break;
	default:
		break;
	}
}

/* ---- SPEC ---- */

static int parse_mode(const char *s, enum ep_mode *m)
{
	for (unsigned i = 0; i < sizeof(ep_mode_names) / sizeof(ep_mode_names[0]); i++) {
		if (strcmp(s, ep_mode_names[i]) == 0) {
			*m = (enum ep_mode)i;
			return 0;
		}
	}
	return -1;
}

static int parse_spec(struct endpoint *ep, char *spec)
{
	char *save = NULL;
	bool hs = false;

	for (char *item = strtok_r(spec, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '='), *colon = strchr(item, ':'), *end;
		enum ep_mode m;
		long k = 1;

		if (eq) {
			*eq++ = '\0';
			errno = 0;
			if (strcmp(item, "watch") == 0) {
				if (strlen(eq) >= sizeof(ep->watch))
					goto bad;
				strcpy(ep->watch, eq);
				continue;
			}
			double v = strtod(eq, &end);
			if (*end || errno || v < 0)
				goto bad;
			if (strcmp(item, "count") == 0 && v >= 1 && v <= 100000000)
				ep->count = (int)v;
			else if (strcmp(item, "warm") == 0 && v <= 100000000)
				ep->warm = (int)v;
			else if (strcmp(item, "size") == 0 && v >= 1 && v <= EP_MAX_MSG)
				ep->size = (size_t)v;
			else if (strcmp(item, "gap") == 0 && v <= 600000)
				ep->gap_ms = (int)v;
			else if (strcmp(item, "warmup") == 0 && v <= 3600)
				ep->warmup = v;
			else if (strcmp(item, "window") == 0 && v <= 3600)
				ep->window = v;
			else if (strcmp(item, "slow") == 0 && v <= 1e9)
				ep->slow_ns = (uint64_t)(v * 1000);
			else
				goto bad;
			continue;
		}
		if (strcmp(item, "verify") == 0) {
			ep->verify = true;
			continue;
		}
		if (colon) {
			*colon++ = '\0';
			errno = 0;
			k = strtol(colon, &end, 10);
			if (*end || errno || k < 1)
				goto bad;
		}
		if (parse_mode(item, &m) < 0)
			goto bad;
		if (m == EM_HS)
			hs = true;
		if ((m == EM_PING || m == EM_HS) && k != 1)
			goto bad;
		if (m == EM_PING && ep->pinger)
			goto bad;
		if (ep->n + (unsigned)k > EP_MAX_SESSIONS)
			goto bad;
		for (long i = 0; i < k; i++) {
			struct ep_sess *s = &ep->s[ep->n];
			s->ep = ep;
			s->idx = ep->n++;
			s->mode = m;
			if (m == EM_PING)
				ep->pinger = s;
		}
	}
	if (ep->n == 0 || (hs && ep->n != 1))
		return -1; /* hs runs alone */
	return 0;
bad:
	return -1;
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
	if (parse_spec(ep, copy) < 0) {
		log_err("--endpoint: not a SPEC: %s (MODE[:N],... with MODE source, sink, echo, "
		        "ping, idle or hs; options count=, warm=, size=, gap=, warmup=, window=, "
		        "watch=, verify; see hostsim/endpoint.h)",
		        spec);
		goto fail;
	}
	for (size_t i = 0; i < sizeof(ep->pattern); i++)
		ep->pattern[i] = ep_pattern(i);
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
			sess_end(&ep->s[i], "md9-hostsim is stopping");
	ev_del(ep->loop, &ep->th);
	close(ep->tfd);
	free(ep->rtt);
	free(ep);
	the_ep = NULL;
}
