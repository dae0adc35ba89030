#include "raw.h"

#include "frontconn.h"
#include "log.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct raw_conn {
	struct frontconn fc; /* first: frontconn_close frees it */
	struct md9_stream *client;
};

_Static_assert(offsetof(struct raw_conn, fc) == 0, "frontconn_close frees the connection");

static struct frontconn_server *the_front;

static void close_client(struct frontconn *fc)
{
	struct raw_conn *c = (struct raw_conn *)fc;

	c->client->ops->free(c->client);
}

static void on_client(struct ev_handler *h, uint32_t events)
{
	struct raw_conn *c = h->arg;

	frontconn_pump(&c->fc, c->client);
}

static void dev_opened(struct simdev *d)
{
	struct raw_conn *c = d->owner;

	c->fc.hc = d->chan;
	memset(&c->fc.ps, 0, sizeof(c->fc.ps));
	frontconn_pump(&c->fc, c->client);
}

static void dev_closed(struct simdev *d)
{
	struct raw_conn *c = d->owner;

	c->fc.hc = NULL;
	if (!c->fc.hs)
		return; /* we are rescinding it ourselves */
	/* Ends the session: the rescind happens once this callback returns. */
	frontconn_close(&c->fc, "the guest closed the channel");
}

static void dev_signalled(struct simdev *d)
{
	struct raw_conn *c = d->owner;

	frontconn_pump(&c->fc, c->client);
}

static const struct simdev_ops raw_dev_ops = {
    .opened = dev_opened,
    .closed = dev_closed,
    .signalled = dev_signalled,
};

static void accepted(struct frontconn_server *f, int fd)
{
	struct raw_conn *c = calloc(1, sizeof(*c));

	if (!c || !(c->client = md9_stream_socket(fd))) {
		close(fd);
		free(c);
		return;
	}
	/* No interest until the guest opens the channel: the client's bytes
	 * wait in the socket. */
	frontconn_add(f, &c->fc, fd, 0, on_client);
	c->fc.hs = hostctl_start_session(f->ctl, &raw_dev_ops, c);
	if (!c->fc.hs)
		frontconn_close(&c->fc, "no data instance free");
}

int raw_start(struct ev_loop *loop, struct hostctl *ctl, const char *addr, bool allow_remote)
{
	struct frontconn_server *f = calloc(1, sizeof(*f));
	int port;

	if (!f)
		return -1;
	f->loop = loop;
	f->ctl = ctl;
	f->name = "raw";
	f->title = "raw";
	f->accepted = accepted;
	f->close_client = close_client;
	port = frontconn_listen(f, addr, allow_remote);
	if (port < 0) {
		free(f);
		return -1;
	}
	the_front = f;
	return port;
}

void raw_stop(void)
{
	if (!the_front)
		return;
	frontconn_stop(the_front);
	free(the_front);
	the_front = NULL;
}
