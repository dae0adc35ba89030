#include "raw.h"

#include "front.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

struct raw_front {
	struct ev_loop *loop;
	struct hostctl *ctl;
	int lfd;
	struct ev_handler lh;
	unsigned nconn;
	struct raw_conn *conns; /* every open connection, for raw_stop */
};

static struct raw_front *the_front;

struct raw_conn {
	struct raw_front *front;
	struct raw_conn *next;
	struct md9_stream *client;
	struct ev_handler h;
	struct hostctl_session *hs;
	struct hostchan *hc; /* while the guest has the channel open */
	struct pump_state ps;
	unsigned id;
};

static void conn_free(struct raw_conn *c, const char *why)
{
	log_info("hostsim raw %u: closed (%s): %llu bytes to the guest, %llu bytes to the client",
		 c->id, why, (unsigned long long)c->ps.to_guest, (unsigned long long)c->ps.to_client);
	for (struct raw_conn **p = &c->front->conns; *p; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			break;
		}
	}
	ev_del(c->front->loop, &c->h);
	c->client->ops->free(c->client);
	if (c->hs) {
		struct hostctl_session *hs = c->hs;
		c->hs = NULL;
		hostctl_end_session(hs); /* rescinds; our closed() sees c->hs == NULL */
	}
	free(c);
}

static void conn_pump(struct raw_conn *c)
{
	const char *why = NULL;

	if (!c->hc)
		return;
	switch (pump_run(c->hc, c->client, &c->ps, &why)) {
	case PUMP_CLIENT_EOF:
		conn_free(c, "the client closed the connection");
		return;
	case PUMP_ERROR:
		log_warn("hostsim raw %u: %s", c->id, why);
		conn_free(c, why);
		return;
	case PUMP_OK:
		break;
	}
	ev_mod(c->front->loop, &c->h, pump_client_events(c->client, &c->ps));
}

static void on_client(struct ev_handler *h, uint32_t events)
{
	conn_pump(h->arg);
}

static void dev_opened(struct simdev *d)
{
	struct raw_conn *c = d->owner;

	c->hc = d->chan;
	memset(&c->ps, 0, sizeof(c->ps));
	conn_pump(c);
}

static void dev_closed(struct simdev *d)
{
	struct raw_conn *c = d->owner;

	c->hc = NULL;
	if (!c->hs)
		return; /* we are rescinding it ourselves */
	/* Ends the session: the rescind happens once this callback returns. */
	conn_free(c, "the guest closed the channel");
}

static void dev_signalled(struct simdev *d)
{
	conn_pump(d->owner);
}

static const struct simdev_ops raw_dev_ops = {
	.opened = dev_opened,
	.closed = dev_closed,
	.signalled = dev_signalled,
};

static void on_listen(struct ev_handler *h, uint32_t events)
{
	struct raw_front *f = h->arg;
	int fd = accept4(f->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct raw_conn *c;

	if (fd < 0)
		return;
	c = calloc(1, sizeof(*c));
	if (!c || !(c->client = md9_stream_socket(fd))) {
		close(fd);
		free(c);
		return;
	}
	c->front = f;
	c->id = ++f->nconn;
	c->next = f->conns;
	f->conns = c;
	/* No interest until the guest opens the channel: the client's bytes
	 * wait in the socket. */
	ev_set(f->loop, &c->h, fd, 0, on_client, c);
	log_info("hostsim raw %u: client connected", c->id);
	c->hs = hostctl_start_session(f->ctl, &raw_dev_ops, c);
	if (!c->hs)
		conn_free(c, "no data instance free");
}

int raw_start(struct ev_loop *loop, struct hostctl *ctl, const char *addr, bool allow_remote)
{
	struct raw_front *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->loop = loop;
	f->ctl = ctl;
	f->lfd = front_listen(addr, allow_remote);
	if (f->lfd < 0) {
		free(f);
		return -1;
	}
	ev_set(loop, &f->lh, f->lfd, EPOLLIN, on_listen, f);
	log_info("hostsim: raw front end on %s (port %d)", addr, front_port(f->lfd));
	the_front = f;
	return front_port(f->lfd);
}

void raw_stop(void)
{
	struct raw_front *f = the_front;

	if (!f)
		return;
	while (f->conns)
		conn_free(f->conns, "md9-hostsim is stopping");
	ev_del(f->loop, &f->lh);
	close(f->lfd);
	free(f);
	the_front = NULL;
}
