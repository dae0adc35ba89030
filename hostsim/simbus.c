#include "simbus.h"

#include "fdpass.h"
#include "log.h"
#include "simproto.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define SIMBUS_MAX_DEVICES 64

struct simbus {
	struct ev_loop *loop;
	char path[108];
	size_t ring_size;
	int lsock, gsock;
	struct ev_handler lh, gh;
	struct simdev *dev[SIMBUS_MAX_DEVICES];
	int ndev;
	void (*guest_cb)(void *arg, bool connected);
	void *guest_arg;
	/* An in-process guest (simbus_new_guest) instead of the socket. */
	const struct simbus_guest_ops *guest_ops;
	void *guest_ops_arg;
};

static void send_msg(struct simbus *bus, const struct sim_msg *m, const int *fds, int nfds)
{
	ssize_t n;

	if (bus->gsock < 0)
		return;
	n = fdpass_send(bus->gsock, m, sizeof(*m), fds, nfds);
	if (n < 0)
		log_warn("hostsim: send to guest: %s", strerror((int)-n));
}

static void send_offer(struct simbus *bus, struct simdev *d)
{
	struct sim_msg m = {.type = SIM_OFFER, .class_id = d->class_id, .instance = d->instance};

	if (bus->guest_ops) {
		bus->guest_ops->offer(bus->guest_ops_arg, d);
		return;
	}
	send_msg(bus, &m, NULL, 0);
}

static struct simdev *find(struct simbus *bus, const struct md9_guid *inst)
{
	for (int i = 0; i < bus->ndev; i++)
		if (md9_guid_eq(&bus->dev[i]->instance, inst))
			return bus->dev[i];
	return NULL;
}

static void dev_doorbell(struct ev_handler *h, uint32_t events)
{
	struct simdev *d = h->arg;

	hostchan_ack(d->chan);
	if (d->ops->signalled)
		d->ops->signalled(d);
}

static void dev_close(struct simdev *d)
{
	char g[MD9_GUID_STRLEN];

	if (!d->chan)
		return;
	log_info("hostsim: channel %s closed", md9_guid_format(&d->instance, g));
	ev_del(d->bus->loop, &d->doorbell);
	d->in_close = true;
	if (d->ops->closed)
		d->ops->closed(d);
	d->in_close = false;
	hostchan_free(d->chan);
	d->chan = NULL;
	if (d->rescind_pending && !d->rescinding)
		simbus_rescind(d); /* frees d */
}

/* Create the channel of d: 0, -EBUSY (open already) or -ENOMEM. */
static int chan_create(struct simbus *bus, struct simdev *d)
{
	char g[MD9_GUID_STRLEN];

	if (d->chan) {
		log_warn("hostsim: guest opened %s twice", md9_guid_format(&d->instance, g));
		return -EBUSY;
	}
	d->chan = hostchan_new(bus->ring_size);
	if (!d->chan)
		return -ENOMEM;
	ev_set(bus->loop, &d->doorbell, d->chan->from_guest, EPOLLIN, dev_doorbell, d);
	return 0;
}

/* The guest has the channel: the host's side may use it from now on. */
static void chan_announce(struct simdev *d)
{
	char g[MD9_GUID_STRLEN];

	log_info("hostsim: channel %s opened", md9_guid_format(&d->instance, g));
	if (d->ops->opened)
		d->ops->opened(d);
}

static void dev_open(struct simbus *bus, const struct md9_guid *inst)
{
	struct sim_msg m = {.type = SIM_OPENED, .instance = *inst};
	struct simdev *d = find(bus, inst);
	char g[MD9_GUID_STRLEN];

	if (!d) {
		log_warn("hostsim: guest opened %s, which is not offered", md9_guid_format(inst, g));
		m.status = -ENOENT;
		send_msg(bus, &m, NULL, 0);
		return;
	}
	m.status = chan_create(bus, d);
	if (m.status < 0) {
		send_msg(bus, &m, NULL, 0);
		return;
	}
	m.class_id = d->class_id;
	m.page_size = (uint32_t)d->chan->page_size;
	m.ring_size = bus->ring_size;
	int fds[3] = {d->chan->memfd, d->chan->to_guest, d->chan->from_guest};
	send_msg(bus, &m, fds, 3);
	chan_announce(d);
}

static void guest_gone(struct simbus *bus)
{
	ev_del(bus->loop, &bus->gh);
	close(bus->gsock);
	bus->gsock = -1;
	log_info("hostsim: guest disconnected");
	/* Backwards: a close may rescind (swap-remove) the device at i. */
	for (int i = bus->ndev - 1; i >= 0; i--)
		if (i < bus->ndev)
			dev_close(bus->dev[i]);
	if (bus->guest_cb)
		bus->guest_cb(bus->guest_arg, false);
}

static void guest_readable(struct ev_handler *h, uint32_t events)
{
	struct simbus *bus = h->arg;
	struct sim_msg m;
	ssize_t n = recv(bus->gsock, &m, sizeof(m), MSG_DONTWAIT);
	struct simdev *d;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n != (ssize_t)sizeof(m)) {
		if (n > 0)
			log_warn("hostsim: malformed message from guest (%zd bytes)", n);
		guest_gone(bus);
		return;
	}
	switch (m.type) {
	case SIM_HELLO:
		if (m.version != SIM_PROTO_VERSION) {
			log_warn("hostsim: guest speaks sim protocol %u, not %u", m.version,
				 SIM_PROTO_VERSION);
			guest_gone(bus);
			return;
		}
		log_info("hostsim: guest connected");
		for (int i = 0; i < bus->ndev; i++)
			send_offer(bus, bus->dev[i]);
		if (bus->guest_cb)
			bus->guest_cb(bus->guest_arg, true);
		break;
	case SIM_OPEN:
		dev_open(bus, &m.instance);
		break;
	case SIM_CLOSE:
		d = find(bus, &m.instance);
		if (d)
			dev_close(d);
		break;
	default:
		log_warn("hostsim: unknown message type %u from guest", m.type);
		guest_gone(bus);
	}
}

static void listener_readable(struct ev_handler *h, uint32_t events)
{
	struct simbus *bus = h->arg;
	int s = accept4(bus->lsock, NULL, NULL, SOCK_CLOEXEC);

	if (s < 0)
		return;
	if (bus->gsock >= 0) {
		/* The last guest may be gone with its end of file not read yet: a
		 * guest that exited just before the next one connected (the loop
		 * sees both in one round). Finish it first; only a live one
		 * refuses the newcomer. */
		struct pollfd p = {.fd = bus->gsock, .events = POLLIN | POLLRDHUP};

		if (poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLRDHUP)))
			for (int i = 0; i < 1024 && bus->gsock >= 0; i++)
				guest_readable(&bus->gh, EPOLLIN);
	}
	if (bus->gsock >= 0) {
		log_warn("hostsim: a guest is already connected; refusing another");
		close(s);
		return;
	}
	bus->gsock = s;
	ev_set(bus->loop, &bus->gh, s, EPOLLIN, guest_readable, bus);
}

struct simbus *simbus_new(struct ev_loop *loop, const char *path, size_t ring_size)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct simbus *bus;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_err("hostsim: bus path too long: %s", path);
		return NULL;
	}
	bus = calloc(1, sizeof(*bus));
	if (!bus)
		return NULL;
	bus->loop = loop;
	bus->ring_size = ring_size;
	bus->gsock = -1;
	strcpy(bus->path, path);
	strcpy(sa.sun_path, path);
	bus->lsock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	unlink(path);
	if (bus->lsock < 0 || bind(bus->lsock, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(bus->lsock, 4) < 0) {
		log_err("hostsim: cannot serve the bus at %s: %s", path, strerror(errno));
		if (bus->lsock >= 0)
			close(bus->lsock);
		free(bus);
		return NULL;
	}
	chmod(path, 0600);
	ev_set(loop, &bus->lh, bus->lsock, EPOLLIN, listener_readable, bus);
	return bus;
}

struct simbus *simbus_new_guest(struct ev_loop *loop, size_t ring_size,
				const struct simbus_guest_ops *ops, void *arg)
{
	struct simbus *bus = calloc(1, sizeof(*bus));

	if (!bus)
		return NULL;
	bus->loop = loop;
	bus->ring_size = ring_size;
	bus->lsock = bus->gsock = -1;
	bus->guest_ops = ops;
	bus->guest_ops_arg = arg;
	return bus;
}

int simbus_guest_open(struct simdev *d)
{
	int err = chan_create(d->bus, d);

	if (err == 0)
		chan_announce(d);
	return err;
}

void simbus_guest_close(struct simdev *d)
{
	dev_close(d);
}

size_t simbus_ring_size(const struct simbus *bus)
{
	return bus->ring_size;
}

void simbus_free(struct simbus *bus)
{
	if (!bus)
		return;
	while (bus->ndev)
		simbus_rescind(bus->dev[0]);
	if (bus->gsock >= 0) {
		ev_del(bus->loop, &bus->gh);
		close(bus->gsock);
	}
	if (bus->lsock >= 0) {
		ev_del(bus->loop, &bus->lh);
		close(bus->lsock);
		unlink(bus->path);
	}
	free(bus);
}

struct simdev *simbus_offer(struct simbus *bus, const struct md9_guid *class_id,
			    const struct md9_guid *instance, const struct simdev_ops *ops,
			    void *owner)
{
	struct simdev *d;

	if (bus->ndev == SIMBUS_MAX_DEVICES || find(bus, instance))
		return NULL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->bus = bus;
	d->class_id = *class_id;
	d->instance = *instance;
	d->ops = ops;
	d->owner = owner;
	d->offered = true;
	bus->dev[bus->ndev++] = d;
	send_offer(bus, d);
	return d;
}

void simbus_rescind(struct simdev *d)
{
	struct simbus *bus = d->bus;
	struct sim_msg m = {.type = SIM_RESCIND, .class_id = d->class_id, .instance = d->instance};
	char g[MD9_GUID_STRLEN];

	if (d->rescinding)
		return;
	if (d->in_close) {
		d->rescind_pending = true;
		return;
	}
	d->rescinding = true;
	log_info("hostsim: rescinding %s", md9_guid_format(&d->instance, g));
	if (bus->guest_ops)
		bus->guest_ops->rescind(bus->guest_ops_arg, d);
	else
		send_msg(bus, &m, NULL, 0);
	dev_close(d);
	if (bus->guest_ops)
		bus->guest_ops->gone(bus->guest_ops_arg, d);
	for (int i = 0; i < bus->ndev; i++) {
		if (bus->dev[i] == d) {
			bus->dev[i] = bus->dev[--bus->ndev];
			break;
		}
	}
	free(d);
}

bool simbus_guest_connected(const struct simbus *bus)
{
	return bus->guest_ops || bus->gsock >= 0;
}

void simbus_set_guest_cb(struct simbus *bus, void (*cb)(void *arg, bool connected), void *arg)
{
	bus->guest_cb = cb;
	bus->guest_arg = arg;
}
