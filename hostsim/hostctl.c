#include "hostctl.h"

#include "control.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_HOST_SESSIONS 64

struct hostctl_session {
	struct hostctl *ctl;
	struct md9_guid instance;
	const struct simdev_ops *ops;
	void *owner;
	struct simdev *dev; /* NULL while queued */
	bool used;
	uint64_t offer_seq; /* when dev was offered, for hostctl_data_dev(NULL) */
};

struct hostctl {
	struct simbus *bus;
	enum version_reply reply;
	struct simdev *ctrl;
	bool ready;
	unsigned next_instance;
	unsigned instances; /* data instances to rotate over (hostctl_set_instances) */
	uint64_t offers;
	struct hostctl_session sessions[MAX_HOST_SESSIONS];
};

int version_reply_parse(const char *s, enum version_reply *out)
{
	static const char *const names[] = {"accept", "reject",  "malformed", "silent",
					    "error",  "unknown", "short",     "twice",
					    "create-first"};

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum version_reply)i;
			return 0;
		}
	}
	return -1;
}

static void send_ctrl(struct hostctl *c, const uint8_t *msg, size_t len)
{
	struct hostchan *hc = c->ctrl ? c->ctrl->chan : NULL;

	if (!hc)
		return;
	if (pipe_tx_write(&hc->out, msg, len) != len) {
		log_warn("hostsim: control ring full; message dropped");
		return;
	}
	if (pipe_tx_commit(&hc->out))
		hostchan_signal(hc);
}

/* Data instance idx: 99221FA1 + idx (idx < 5: md9_guid_data_instance's). */
static void data_instance(unsigned idx, struct md9_guid *out)
{
	*out = md9_guid_control_instance;
	out->b[0] = (uint8_t)(0xa1 + idx);
}

static bool instance_busy(struct hostctl *c, const struct md9_guid *g)
{
	for (int i = 0; i < MAX_HOST_SESSIONS; i++)
		if (c->sessions[i].used && md9_guid_eq(&c->sessions[i].instance, g))
			return true;
	return false;
}

static void send_create_session(struct hostctl_session *hs)
{
	struct hostctl *c = hs->ctl;
	uint8_t msg[CTRL_CREATE_SESSION_LEN];
	char g[MD9_GUID_STRLEN];
	struct timespec t;

	ctrl_encode_create_session(msg, &hs->instance);
	/* CLOCK_MONOTONIC, comparable across processes: bench/run measures
	 * CreateSession -> the server's accept() with it. */
	clock_gettime(CLOCK_MONOTONIC, &t);
	send_ctrl(c, msg, sizeof(msg));
	log_info("hostsim: CreateSession %s (monotonic %lld.%09ld)",
		 md9_guid_format(&hs->instance, g), (long long)t.tv_sec, t.tv_nsec);
	/* As the in-box guest expects: CreateSession names the instance, then
	 * the data channel is offered (rdpcorets waits for it to appear). */
	hs->dev = simbus_offer(c->bus, &md9_guid_data_class, &hs->instance, hs->ops, hs->owner);
	hs->offer_seq = ++c->offers;
	if (!hs->dev)
		log_warn("hostsim: cannot offer data channel %s", g);
}

static void ctrl_message(struct hostctl *c, const uint8_t *buf, size_t len)
{
	struct ctrl_msg m;
	const char *why = NULL;
	uint8_t resp[CTRL_VERSION_RESPONSE_LEN];

	if (ctrl_decode(buf, len, &m, &why) < 0 || m.type != CTRL_VERSION_REQUEST) {
		log_warn("hostsim: bad control message from the guest: %s",
			 why ? why : "not a VersionRequest");
		return;
	}
	/* The guest's size field: 16 from one known guest, 0 from another. */
	if (m.size != CTRL_VERSION_REQUEST_LEN && m.size != 0)
		log_warn("hostsim: VersionRequest size field %u (expected 16 or 0)", m.size);
	log_info("hostsim: VersionRequest %u.%u", m.version & 0xffff, m.version >> 16);
	switch (c->reply) {
	case VERSION_ACCEPT:
		ctrl_encode_version_response(resp, CTRL_VERSION_1_0,
					     m.version == CTRL_VERSION_1_0
						     ? CTRL_ACCEPTED_WITH_VERSION_EXCHANGE
						     : 0);
		send_ctrl(c, resp, sizeof(resp));
		c->ready = m.version == CTRL_VERSION_1_0;
		break;
	case VERSION_REJECT:
		ctrl_encode_version_response(resp, CTRL_VERSION_1_0, 0);
		send_ctrl(c, resp, sizeof(resp));
		return;
	case VERSION_MALFORMED:
		ctrl_encode_version_response(resp, CTRL_VERSION_1_0, 2);
		send_ctrl(c, resp, 9);
		return;
	case VERSION_SILENT:
		return;
	case VERSION_ERROR:
		/* An Error message (type 0), padded to a response's length. */
		memset(resp, 0, sizeof(resp));
		resp[4] = CTRL_VERSION_RESPONSE_LEN;
		send_ctrl(c, resp, sizeof(resp));
		return;
	case VERSION_UNKNOWN_TYPE:
		ctrl_encode_version_response(resp, CTRL_VERSION_1_0, 2);
		resp[0] = 7;
		send_ctrl(c, resp, sizeof(resp));
		return;
	case VERSION_SHORT:
		ctrl_encode_version_response(resp, CTRL_VERSION_1_0, 2);
		send_ctrl(c, resp, 4);
		return;
	case VERSION_TWICE:
		ctrl_encode_version_response(resp, CTRL_VERSION_1_0, 2);
		send_ctrl(c, resp, sizeof(resp));
		send_ctrl(c, resp, sizeof(resp));
		return;
	case VERSION_CREATE_FIRST: {
		uint8_t cs[CTRL_CREATE_SESSION_LEN];
		struct md9_guid g;
		md9_guid_data_instance(0, &g);
		ctrl_encode_create_session(cs, &g);
		send_ctrl(c, cs, sizeof(cs));
		ctrl_encode_version_response(resp, CTRL_VERSION_1_0, 2);
		send_ctrl(c, resp, sizeof(resp));
		return;
	}
	}
	if (!c->ready)
		return;
	log_info("hostsim: control channel ready");
	for (int i = 0; i < MAX_HOST_SESSIONS; i++)
		if (c->sessions[i].used && !c->sessions[i].dev)
			send_create_session(&c->sessions[i]);
}

static void ctrl_signalled(struct simdev *d)
{
	struct hostctl *c = d->owner;
	struct hostchan *hc = d->chan;
	bool kick = false;

	for (;;) {
		vmbus_ring_mask(&hc->tx);
		for (;;) {
			uint8_t buf[64];
			ssize_t n = pipe_rx_packet(&hc->in, buf, sizeof(buf));
			size_t len = (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf);
			if (n < 0) {
				log_warn("hostsim: control stream from the guest is corrupt: %s",
					 hc->in.error);
				return;
			}
			if (n == 0)
				break;
			kick |= pipe_rx_commit(&hc->in);
			ctrl_message(c, buf, len);
			if (!d->chan)
				return;
		}
		if (!vmbus_ring_unmask(&hc->tx))
			break;
	}
	if (kick)
		hostchan_signal(hc);
}

static void ctrl_opened(struct simdev *d)
{
	struct hostctl *c = d->owner;

	c->ready = false;
	ctrl_signalled(d);
}

static void ctrl_closed(struct simdev *d)
{
	struct hostctl *c = d->owner;

	c->ready = false;
	log_info("hostsim: the guest closed the control channel");
}

static const struct simdev_ops ctrl_ops = {
	.opened = ctrl_opened,
	.closed = ctrl_closed,
	.signalled = ctrl_signalled,
};

void hostctl_offer_control(struct hostctl *c)
{
	if (c->ctrl)
		return;
	c->ctrl = simbus_offer(c->bus, &md9_guid_control_class, &md9_guid_control_instance,
			       &ctrl_ops, c);
}

void hostctl_rescind_control(struct hostctl *c)
{
	if (!c->ctrl)
		return;
	c->ready = false;
	simbus_rescind(c->ctrl);
	c->ctrl = NULL;
}

struct hostctl *hostctl_new(struct simbus *bus, enum version_reply reply)
{
	struct hostctl *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->bus = bus;
	c->reply = reply;
	c->instances = MD9_DATA_INSTANCES;
	hostctl_offer_control(c);
	if (!c->ctrl) {
		free(c);
		return NULL;
	}
	return c;
}

void hostctl_free(struct hostctl *c)
{
	if (!c)
		return;
	for (int i = 0; i < MAX_HOST_SESSIONS; i++)
		if (c->sessions[i].used)
			hostctl_end_session(&c->sessions[i]);
	hostctl_rescind_control(c);
	free(c);
}

struct hostctl_session *hostctl_start_session(struct hostctl *c, const struct simdev_ops *ops,
					      void *owner)
{
	struct hostctl_session *hs = NULL;
	struct md9_guid g;

	for (int i = 0; i < MAX_HOST_SESSIONS && !hs; i++)
		if (!c->sessions[i].used)
			hs = &c->sessions[i];
	if (!hs)
		return NULL;
	/* The next of the five known instances (or of --instances N) not in use. */
	for (unsigned k = 0; k < c->instances; k++) {
		data_instance(c->next_instance++ % c->instances, &g);
		if (!instance_busy(c, &g)) {
			*hs = (struct hostctl_session){
				.ctl = c, .instance = g, .ops = ops, .owner = owner, .used = true};
			if (c->ready)
				send_create_session(hs);
			else
				log_info("hostsim: session queued until the guest's control channel is ready");
			return hs;
		}
	}
	log_warn("hostsim: all %u data instances are in use", c->instances);
	return NULL;
}

void hostctl_end_session(struct hostctl_session *hs)
{
	struct simdev *dev = hs->dev;

	hs->used = false;
	hs->dev = NULL;
	if (dev)
		simbus_rescind(dev);
}

struct simdev *hostctl_session_dev(struct hostctl_session *hs)
{
	return hs->dev;
}

void hostctl_create_session_unoffered(struct hostctl *c, const struct md9_guid *instance)
{
	uint8_t msg[CTRL_CREATE_SESSION_LEN];

	ctrl_encode_create_session(msg, instance);
	send_ctrl(c, msg, sizeof(msg));
}

bool hostctl_ready(const struct hostctl *c)
{
	return c->ready;
}

/* ---- fault injection (hostsim/fault.c) ---- */

void hostctl_set_instances(struct hostctl *c, unsigned n)
{
	c->instances = n < 1 ? 1 : n > MAX_HOST_SESSIONS ? MAX_HOST_SESSIONS : n;
}

void hostctl_set_version_reply(struct hostctl *c, enum version_reply reply)
{
	c->reply = reply;
}

struct simdev *hostctl_data_dev(struct hostctl *c, const struct md9_guid *instance)
{
	struct hostctl_session *best = NULL;

	for (int i = 0; i < MAX_HOST_SESSIONS; i++) {
		struct hostctl_session *hs = &c->sessions[i];
		if (!hs->used || !hs->dev)
			continue;
		if (instance ? md9_guid_eq(&hs->instance, instance)
			     : !best || hs->offer_seq > best->offer_seq)
			best = hs;
	}
	return best ? best->dev : NULL;
}

struct simdev *hostctl_control_dev(struct hostctl *c)
{
	return c->ctrl;
}

int hostctl_rescind_data(struct hostctl *c, const struct md9_guid *instance)
{
	int n = 0;

	for (int i = 0; i < MAX_HOST_SESSIONS; i++) {
		struct hostctl_session *hs = &c->sessions[i];
		struct simdev *dev = hs->dev;
		if (!hs->used || !dev || (instance && !md9_guid_eq(&hs->instance, instance)))
			continue;
		/* Never opened by the guest: the rescind would not reach the
		 * owner (closed() runs for open channels only), so tell it; it
		 * drops its client and ends the session itself. */
		if (!dev->chan && dev->ops->closed)
			dev->ops->closed(dev);
		if (hs->used && hs->dev == dev)
			hostctl_end_session(hs);
		n++;
	}
	return n;
}

void hostctl_for_each_data(struct hostctl *c, void (*fn)(struct simdev *dev, void *arg), void *arg)
{
	for (int i = 0; i < MAX_HOST_SESSIONS; i++)
		if (c->sessions[i].used && c->sessions[i].dev)
			fn(c->sessions[i].dev, arg);
}

const struct md9_guid *hostctl_instance_of(struct hostctl *c, const struct hostchan *hc)
{
	for (int i = 0; i < MAX_HOST_SESSIONS; i++)
		if (c->sessions[i].used && c->sessions[i].dev && c->sessions[i].dev->chan == hc)
			return &c->sessions[i].instance;
	return NULL;
}

void hostctl_send_raw(struct hostctl *c, const uint8_t *msg, size_t len)
{
	send_ctrl(c, msg, len);
}
