#include "ctrlchan.h"

#include "log.h"
#include "timespec.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>

#define CTRL_VERSION_TIMEOUT_MS 5000
#define CTRL_BACKOFF_MIN_MS     100
#define CTRL_BACKOFF_MAX_MS     30000
#define CTRL_OPEN_RETRY_MS      50
#define CTRL_OPEN_WARN_MS       5000

void ctrlchan_close(struct ctrlchan *c)
{
	if (!c->ch)
		return;
	ev_del(c->loop, &c->h);
	c->tp->ops->close(c->ch);
	c->ch = NULL;
}

static void on_timer(struct ev_timer *t);

/* The control channel's one deadline: the VersionResponse (CTRL_WAIT_VERSION),
 * the end of the backoff (CTRL_BACKOFF) or the next try of a device not ready
 * (CTRL_WAIT_READY, until md9 warned about it); no timer in the other states. */
static void ctrlchan_arm_timer(struct ctrlchan *c, unsigned ms)
{
	if (c->state == CTRL_WAIT_VERSION || c->state == CTRL_BACKOFF ||
	    (c->state == CTRL_WAIT_READY && !c->wait_warned))
		ev_timer_arm(c->loop, &c->timer, ms, on_timer, c);
	else
		ev_timer_cancel(c->loop, &c->timer);
}

/* Any failure: close, log why, open again after a bounded backoff. */
static void ctrlchan_fail(struct ctrlchan *c, const char *why)
{
	unsigned ms = CTRL_BACKOFF_MIN_MS;

	for (unsigned i = 0; i < c->failures && ms < CTRL_BACKOFF_MAX_MS; i++)
		ms *= 2;
	if (ms > CTRL_BACKOFF_MAX_MS)
		ms = CTRL_BACKOFF_MAX_MS;
	c->failures++;
	ctrlchan_close(c);
	if (!c->offered) {
		log_warn("control channel: %s; waiting for the host to offer it again", why);
		c->state = CTRL_WAIT_OFFER;
	} else {
		log_warn("control channel: %s; reopening in %u ms", why, ms);
		c->state = CTRL_BACKOFF;
	}
	ctrlchan_arm_timer(c, ms);
}

static void ctrlchan_send(struct ctrlchan *c, const uint8_t *msg, size_t len)
{
	if (pipe_tx_write(&c->out, msg, len) != len) {
		ctrlchan_fail(c, "no room in the control ring for a request");
		return;
	}
	if (pipe_tx_commit(&c->out) && md9_channel_signal(c->ch) == -EIO)
		ctrlchan_fail(c, "the host closed the control channel");
}

static void ctrlchan_message(struct ctrlchan *c, const uint8_t *buf, size_t len)
{
	struct ctrl_msg m;
	const char *why = NULL;
	char g[MD9_GUID_STRLEN];

	if (ctrl_decode(buf, len, &m, &why) < 0) {
		ctrlchan_fail(c, why);
		return;
	}
	switch (m.type) {
	case CTRL_VERSION_RESPONSE:
		if (c->state != CTRL_WAIT_VERSION) {
			ctrlchan_fail(c, "unexpected VersionResponse");
			return;
		}
		if (m.is_accepted != CTRL_ACCEPTED_WITH_VERSION_EXCHANGE) {
			char msg[96];
			snprintf(msg, sizeof(msg),
			         "the host did not accept protocol 1.0 (is_accepted=%u)",
			         m.is_accepted);
			ctrlchan_fail(c, msg);
			return;
		}
		c->host_version = m.version;
		c->state = CTRL_READY;
		c->failures = 0;
		log_info("control channel ready: host accepted SynthRdp protocol %u.%u",
		         m.version & 0xffff, m.version >> 16);
		ctrlchan_arm_timer(c, 0);
		return;
	case CTRL_CREATE_SESSION:
		if (c->state != CTRL_READY) {
			ctrlchan_fail(c, "CreateSession before the version exchange");
			return;
		}
		log_info("host asks for a session on data channel %s",
		         md9_guid_format(&m.session, g));
		c->create_session(c->arg, &m.session);
		return;
	default:
		ctrlchan_fail(c, "unexpected control message from the host");
	}
}

/* Every control message the ring holds; <0 when the channel failed (and is closed). */
static int ctrlchan_drain(void *arg)
{
	struct ctrlchan *c = arg;

	for (;;) {
		uint8_t buf[CTRL_MAX_LEN];
		ssize_t n = pipe_rx_packet(&c->in, buf, sizeof(buf));
		size_t len = (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf);
		if (n < 0) {
			ctrlchan_fail(c, c->in.error);
			return -1;
		}
		if (n == 0 && c->in.eof) {
			ctrlchan_fail(c, "the host ended the control channel's stream");
			return -1;
		}
		if (n == 0)
			return 0;
		if (pipe_rx_commit(&c->in) && md9_channel_signal(c->ch) == -EIO) {
			ctrlchan_fail(c, "the host closed the control channel");
			return -1;
		}
		ctrlchan_message(c, buf, len);
		if (!c->ch)
			return -1; /* it failed and was closed */
	}
}

static void on_channel(struct ev_handler *h, uint32_t events)
{
	struct ctrlchan *c = h->arg;

	/* Invariant (K4): after -EIO from ack or signal, no ring access. */
	if (md9_channel_ack(c->ch) == -EIO) {
		ctrlchan_fail(c, "the host closed the control channel");
		return;
	}
	if (vmbus_ring_drain(&c->ch->rx, ctrlchan_drain, c) < 0)
		return;
	if (c->ch->rx.broken)
		ctrlchan_fail(c, c->ch->rx.broken);
}

static void ctrlchan_open(struct ctrlchan *c)
{
	uint8_t req[CTRL_VERSION_REQUEST_LEN];
	int rc = c->tp->ops->open(c->tp, &md9_guid_control_instance, &c->ch);

	if (rc == -ENOENT || rc == -ENODEV) {
		/* -ENODEV: the kernel kept a rescinded device (K3; the transport
		 * said so and reports it rescinded): wait for a new offer. */
		c->ch = NULL;
		c->state = CTRL_WAIT_OFFER;
		c->offered = false;
		ctrlchan_arm_timer(c, 0);
		return;
	}
	if (rc == -EAGAIN) {
		/* Not ready yet (K7: the node not ours yet): tried again on the
		 * timer, then on device events; never a failure with a backoff. */
		c->ch = NULL;
		snprintf(c->why, sizeof(c->why), "%s", c->tp->why);
		if (c->state != CTRL_WAIT_READY) {
			c->state = CTRL_WAIT_READY;
			c->wait_since = timespec_now();
			c->wait_warned = false;
			log_debug("control channel: not ready yet (%s); retrying", c->why);
		}
		ctrlchan_arm_timer(c, CTRL_OPEN_RETRY_MS);
		return;
	}
	if (rc < 0) {
		c->ch = NULL;
		ctrlchan_fail(c, strerror(-rc));
		return;
	}
	pipe_rx_init(&c->in, &c->ch->rx);
	pipe_tx_init(&c->out, &c->ch->tx);
	/* Its errors and hang-ups go before any other handler (K4). */
	ev_set_first(c->loop, &c->h, c->ch->fd, EPOLLIN, on_channel, c);
	c->state = CTRL_WAIT_VERSION;
	ctrlchan_arm_timer(c, CTRL_VERSION_TIMEOUT_MS);
	log_info("control channel opened; sending VersionRequest 1.0");
	ctrl_encode_version_request(req, CTRL_VERSION_1_0, CTRL_VERSION_REQUEST_LEN);
	ctrlchan_send(c, req, sizeof(req));
	if (c->ch)
		on_channel(&c->h, EPOLLIN); /* the answer may be there already */
}

/* CTRL_WAIT_READY: open again; say so once when it has waited too long. */
static void ctrlchan_reopen(struct ctrlchan *c)
{
	struct timespec now = timespec_now(), warn_at = c->wait_since;
	char g[MD9_GUID_STRLEN];

	timespec_add_ms(&warn_at, CTRL_OPEN_WARN_MS);
	ctrlchan_open(c);
	if (c->state == CTRL_WAIT_READY && !c->wait_warned && !timespec_before(&now, &warn_at)) {
		log_warn("control channel %s: still not ready after %u s: %s; md9 retries when the "
		         "device changes",
		         md9_guid_format(&md9_guid_control_instance, g), CTRL_OPEN_WARN_MS / 1000,
		         c->why);
		c->wait_warned = true;
		ctrlchan_arm_timer(c, 0); /* from now on device events only */
	}
}

static void on_timer(struct ev_timer *t)
{
	struct ctrlchan *c = t->arg;

	if (c->state == CTRL_WAIT_VERSION)
		ctrlchan_fail(c, "no VersionResponse from the host");
	else if (c->state == CTRL_BACKOFF)
		ctrlchan_open(c);
	else if (c->state == CTRL_WAIT_READY)
		ctrlchan_reopen(c);
}

void ctrlchan_init(struct ctrlchan *c, struct ev_loop *loop, struct md9_transport *tp,
                   void (*create_session)(void *arg, const struct md9_guid *instance), void *arg)
{
	memset(c, 0, sizeof(*c));
	c->loop = loop;
	c->tp = tp;
	c->create_session = create_session;
	c->arg = arg;
	c->state = CTRL_WAIT_OFFER;
}

void ctrlchan_offer(struct ctrlchan *c, const struct md9_guid *instance)
{
	char g[MD9_GUID_STRLEN];

	log_info("control channel %s offered", md9_guid_format(instance, g));
	c->offered = true;
	if (c->state == CTRL_WAIT_OFFER || c->state == CTRL_WAIT_READY)
		ctrlchan_open(c);
}

void ctrlchan_retry(struct ctrlchan *c)
{
	if (c->state == CTRL_WAIT_READY)
		ctrlchan_reopen(c);
}

void ctrlchan_rescind(struct ctrlchan *c)
{
	c->offered = false;
	if (c->ch) {
		c->ch->gone = true; /* its device is gone: K4 */
		ctrlchan_fail(c, "the host rescinded the control channel");
	}
	c->state = CTRL_WAIT_OFFER;
	ctrlchan_arm_timer(c, 0);
}
