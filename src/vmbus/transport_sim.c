/* The simulated bus's guest end (see simproto.h). */
#include "fdpass.h"
#include "log.h"
#include "simproto.h"
#include "transport.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define SIM_MAX_DEVICES 64
#define SIM_MAX_CLASSES 8
#define SIM_OPEN_TIMEOUT_MS 5000

struct sim_channel {
	struct md9_channel ch;
	int doorbell; /* guest -> host eventfd */
	void *map;
	size_t map_len;
	bool rescinded;
};

struct sim_device {
	struct md9_guid class_id, instance;
	bool reported; /* offer already passed to poll_events' caller */
	struct sim_channel *open;
};

struct sim_transport {
	struct md9_transport tp;
	int sock;
	struct md9_guid classes[SIM_MAX_CLASSES];
	int nclasses;
	struct sim_device dev[SIM_MAX_DEVICES];
	int ndev;
	/* Rescinds seen while waiting for SIM_OPENED, reported by the next poll_events. */
	struct md9_dev_event queued[SIM_MAX_DEVICES];
	int nqueued;
	bool dead;
};

static struct sim_transport *to_sim(struct md9_transport *tp)
{
	return (struct sim_transport *)tp;
}

static bool class_bound(const struct sim_transport *s, const struct md9_guid *c)
{
	for (int i = 0; i < s->nclasses; i++)
		if (md9_guid_eq(&s->classes[i], c))
			return true;
	return false;
}

static struct sim_device *find_dev(struct sim_transport *s, const struct md9_guid *inst)
{
	for (int i = 0; i < s->ndev; i++)
		if (md9_guid_eq(&s->dev[i].instance, inst))
			return &s->dev[i];
	return NULL;
}

static void mark_rescinded(struct sim_channel *sc)
{
	uint64_t one = 1;

	/* Make the channel fd readable so the owner's ack() sees -EIO, as a
	 * uio read() does after a rescind (protocol.md §6). */
	sc->rescinded = true;
	if (write(sc->ch.fd, &one, sizeof(one)) < 0)
		log_debug("sim: waking rescinded channel: %s", strerror(errno));
}

/* Apply one message from the host; rescinds are queued for the caller. */
static int sim_apply(struct sim_transport *s, const struct sim_msg *m)
{
	struct sim_device *d;
	char g[MD9_GUID_STRLEN];

	switch (m->type) {
	case SIM_OFFER:
		d = find_dev(s, &m->instance);
		if (!d) {
			if (s->ndev == SIM_MAX_DEVICES) {
				log_warn("sim: too many devices, ignoring offer of %s",
					 md9_guid_format(&m->instance, g));
				return 0;
			}
			d = &s->dev[s->ndev++];
			memset(d, 0, sizeof(*d));
		}
		d->class_id = m->class_id;
		d->instance = m->instance;
		d->reported = false;
		return 0;
	case SIM_RESCIND:
		d = find_dev(s, &m->instance);
		if (!d)
			return 0;
		if (d->open)
			mark_rescinded(d->open);
		if (d->reported && s->nqueued < SIM_MAX_DEVICES)
			s->queued[s->nqueued++] = (struct md9_dev_event){
				.kind = MD9_DEV_RESCIND, .class_id = d->class_id, .instance = d->instance};
		*d = s->dev[--s->ndev];
		return 0;
	case SIM_OPENED: {
		/* The answer to an open that sim_wait_opened gave up on (a host
		 * slower than SIM_OPEN_TIMEOUT_MS): its fds were not taken;
		 * tell the host the channel is closed again. Not a reason to
		 * drop the bus, which would stop md9. */
		struct sim_msg c = {.type = SIM_CLOSE, .instance = m->instance};
		log_warn("sim: late answer to opening %s; closing it",
			 md9_guid_format(&m->instance, g));
		if (m->status == 0)
			send(s->sock, &c, sizeof(c), MSG_NOSIGNAL);
		return 0;
	}
	default:
		log_warn("sim: unexpected message type %u from the host", m->type);
		return -EPROTO;
	}
}

static void sim_lost(struct sim_transport *s)
{
	if (s->dead)
		return;
	s->dead = true;
	log_err("sim: connection to md9-hostsim lost");
	for (int i = 0; i < s->ndev; i++)
		if (s->dev[i].open)
			mark_rescinded(s->dev[i].open);
}

static int sim_bind_class(struct md9_transport *tp, const struct md9_guid *class_id)
{
	struct sim_transport *s = to_sim(tp);

	if (class_bound(s, class_id))
		return 0;
	if (s->nclasses == SIM_MAX_CLASSES)
		return -ENOSPC;
	s->classes[s->nclasses++] = *class_id;
	/* Devices of this class seen before are reported on the next poll. */
	for (int i = 0; i < s->ndev; i++)
		if (md9_guid_eq(&s->dev[i].class_id, class_id))
			s->dev[i].reported = false;
	return 0;
}

static int sim_event_fd(struct md9_transport *tp)
{
	return to_sim(tp)->sock;
}

static int sim_poll_events(struct md9_transport *tp, md9_dev_event_cb cb, void *arg)
{
	struct sim_transport *s = to_sim(tp);
	struct sim_msg m;
	ssize_t n;

	while (!s->dead) {
		n = recv(s->sock, &m, sizeof(m), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n <= 0) {
			sim_lost(s);
			break;
		}
		if ((size_t)n != sizeof(m)) {
			log_err("sim: short message (%zd bytes) from the host", n);
			sim_lost(s);
			break;
		}
		if (sim_apply(s, &m) < 0) {
			sim_lost(s);
			break;
		}
	}
	for (int i = 0; i < s->nqueued; i++)
		if (class_bound(s, &s->queued[i].class_id))
			cb(arg, &s->queued[i]);
	s->nqueued = 0;
	for (int i = 0; i < s->ndev; i++) {
		struct sim_device *d = &s->dev[i];
		if (d->reported || !class_bound(s, &d->class_id))
			continue;
		d->reported = true;
		cb(arg, &(struct md9_dev_event){
				.kind = MD9_DEV_OFFER, .class_id = d->class_id, .instance = d->instance});
	}
	return s->dead ? -ECONNRESET : 0;
}

/* Wait for SIM_OPENED, applying offers and rescinds that come first. */
static int sim_wait_opened(struct sim_transport *s, const struct md9_guid *inst, struct sim_msg *m,
			   int *fds, int *nfds)
{
	struct pollfd pfd = {.fd = s->sock, .events = POLLIN};

	for (;;) {
		int cap = *nfds;
		ssize_t n;
		int rc;

		do
			rc = poll(&pfd, 1, SIM_OPEN_TIMEOUT_MS);
		while (rc < 0 && errno == EINTR);
		if (rc == 0)
			return -ETIMEDOUT;
		n = fdpass_recv(s->sock, m, sizeof(*m), fds, &cap);
		if (n <= 0 || (size_t)n != sizeof(*m)) {
			for (int i = 0; n > 0 && i < cap; i++)
				close(fds[i]);
			sim_lost(s);
			return -ECONNRESET;
		}
		if (m->type == SIM_OPENED && md9_guid_eq(&m->instance, inst)) {
			*nfds = cap;
			return 0;
		}
		for (int i = 0; i < cap; i++)
			close(fds[i]);
		if (sim_apply(s, m) < 0) {
			sim_lost(s);
			return -EPROTO;
		}
	}
}

static int sim_open(struct md9_transport *tp, const struct md9_guid *instance,
		    struct md9_channel **out)
{
	struct sim_transport *s = to_sim(tp);
	struct sim_msg m = {.type = SIM_OPEN, .instance = *instance};
	struct sim_device *d = find_dev(s, instance);
	struct sim_channel *sc;
	int fds[3], nfds = 3, rc;
	size_t half;

	if (s->dead)
		return -ECONNRESET;
	if (!d || !class_bound(s, &d->class_id))
		return -ENOENT;
	if (d->open)
		return -EBUSY;
	if (send(s->sock, &m, sizeof(m), MSG_NOSIGNAL) < 0) {
		sim_lost(s);
		return -ECONNRESET;
	}
	rc = sim_wait_opened(s, instance, &m, fds, &nfds);
	if (rc < 0)
		return rc;
	if (m.status < 0 || nfds != 3) {
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		return m.status < 0 ? m.status : -EPROTO;
	}
	d = find_dev(s, instance); /* the table may have changed while waiting */
	sc = calloc(1, sizeof(*sc));
	half = (size_t)m.ring_size;
	if (!d || !sc || m.page_size < 4096 || half <= m.page_size || half % m.page_size ||
	    half > (1u << 30))
		goto fail;
	sc->map_len = 2 * half;
	{
		/* A memfd smaller than the rings it claims would fault (SIGBUS)
		 * on the first access past its end: check before mapping. */
		struct stat st;
		if (fstat(fds[0], &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < 0 ||
		    (uint64_t)st.st_size < (uint64_t)sc->map_len) {
			log_warn("sim: the host's ring memory is smaller than the %zu bytes it "
			         "announced; refusing the channel",
			         sc->map_len);
			goto fail;
		}
	}
	/* Mapped lazily here; sim_prefault maps every page (as uio_hv_generic's
	 * mmap does at once), once the session has started its connect. */
	sc->map = mmap(NULL, sc->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
	if (sc->map == MAP_FAILED)
		goto fail;
	close(fds[0]);
	fds[0] = -1;
	if (vmbus_ring_attach(&sc->ch.tx, sc->map, m.page_size, half - m.page_size) < 0 ||
	    vmbus_ring_attach(&sc->ch.rx, (uint8_t *)sc->map + half, m.page_size,
			      half - m.page_size) < 0) {
		munmap(sc->map, sc->map_len);
		goto fail;
	}
	vmbus_ring_writer_init(&sc->ch.tx);
	vmbus_ring_unmask(&sc->ch.rx);
	sc->ch.tp = tp;
	sc->ch.instance = *instance;
	sc->ch.fd = fds[1];
	sc->doorbell = fds[2];
	d->open = sc;
	*out = &sc->ch;
	return 0;
fail:
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(sc);
	m = (struct sim_msg){.type = SIM_CLOSE, .instance = *instance};
	send(s->sock, &m, sizeof(m), MSG_NOSIGNAL);
	return -EPROTO;
}

static int sim_signal(struct md9_channel *ch)
{
	struct sim_channel *sc = (struct sim_channel *)ch;
	uint64_t one = 1;

	if (write(sc->doorbell, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

static int sim_ack(struct md9_channel *ch)
{
	struct sim_channel *sc = (struct sim_channel *)ch;
	uint64_t v;

	if (read(ch->fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return -errno;
	return sc->rescinded ? -EIO : 0;
}

static void sim_close(struct md9_channel *ch)
{
	struct sim_channel *sc = (struct sim_channel *)ch;
	struct sim_transport *s = to_sim(ch->tp);
	struct sim_msg m = {.type = SIM_CLOSE, .instance = ch->instance};
	struct sim_device *d = find_dev(s, &ch->instance);

	if (d && d->open == sc)
		d->open = NULL;
	if (!s->dead)
		send(s->sock, &m, sizeof(m), MSG_NOSIGNAL);
	munmap(sc->map, sc->map_len);
	close(ch->fd);
	close(sc->doorbell);
	free(sc);
}

static void sim_destroy(struct md9_transport *tp)
{
	struct sim_transport *s = to_sim(tp);

	for (int i = 0; i < s->ndev; i++)
		if (s->dev[i].open)
			sim_close(&s->dev[i].open->ch);
	close(s->sock);
	free(s);
}

/* Every page of the rings mapped now, as uio_hv_generic's mmap of the ring
 * does (remap_pfn_range, later vm_map_pages_zero): no page faults while data
 * flows. 0.4-0.8 ms for 4 MiB of shared memory here, which is why it is not
 * part of open (before the session's connect). Kernels before 5.14 lack
 * MADV_POPULATE_WRITE: the pages then fault in on first use. */
static void sim_prefault(struct md9_channel *ch)
{
	struct sim_channel *sc = (struct sim_channel *)ch;

	if (madvise(sc->map, sc->map_len, MADV_POPULATE_WRITE) < 0)
		log_debug("sim: prefaulting the rings: %s", strerror(errno));
}

static const struct md9_transport_ops sim_ops = {
	.name = "sim",
	.bind_class = sim_bind_class,
	.event_fd = sim_event_fd,
	.poll_events = sim_poll_events,
	.open = sim_open,
	.signal = sim_signal,
	.ack = sim_ack,
	.close = sim_close,
	.prefault = sim_prefault,
	.destroy = sim_destroy,
};

struct md9_transport *md9_transport_sim_new(const char *socket_path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct sim_msg hello = {.type = SIM_HELLO, .version = SIM_PROTO_VERSION};
	struct sim_transport *s;

	if (strlen(socket_path) >= sizeof(sa.sun_path)) {
		log_err("sim: socket path too long: %s", socket_path);
		return NULL;
	}
	strcpy(sa.sun_path, socket_path);
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->tp.ops = &sim_ops;
	s->sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s->sock < 0 || connect(s->sock, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    send(s->sock, &hello, sizeof(hello), MSG_NOSIGNAL) < 0) {
		log_err("sim: cannot reach md9-hostsim at %s: %s", socket_path, strerror(errno));
		if (s->sock >= 0)
			close(s->sock);
		free(s);
		return NULL;
	}
	return &s->tp;
}
