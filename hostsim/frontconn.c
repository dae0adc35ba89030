/* A front end's listener and client connections (frontconn.h). */
#include "frontconn.h"

#include "log.h"

#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static void on_listen(struct ev_handler *h, uint32_t events)
{
	struct frontconn_server *srv = h->arg;
	int fd = accept4(srv->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd >= 0)
		srv->accepted(srv, fd);
}

int frontconn_listen(struct frontconn_server *srv, const char *addr, bool allow_remote)
{
	srv->lfd = front_listen(addr, allow_remote);
	if (srv->lfd < 0)
		return -1;
	ev_set(srv->loop, &srv->lh, srv->lfd, EPOLLIN, on_listen, srv);
	log_info("hostsim: %s front end on %s (port %d)", srv->title, addr, front_port(srv->lfd));
	return front_port(srv->lfd);
}

void frontconn_stop(struct frontconn_server *srv)
{
	while (srv->conns)
		frontconn_close(srv->conns, "md9-hostsim is stopping");
	ev_del(srv->loop, &srv->lh);
	close(srv->lfd);
}

void frontconn_add(struct frontconn_server *srv, struct frontconn *c, int fd, uint32_t events,
                   ev_fn fn)
{
	c->srv = srv;
	c->id = ++srv->nconn;
	c->next = srv->conns;
	srv->conns = c;
	ev_set(srv->loop, &c->h, fd, events, fn, c);
	log_info("hostsim %s %u: client connected", srv->name, c->id);
}

void frontconn_close(struct frontconn *c, const char *why)
{
	struct frontconn_server *srv = c->srv;

	log_info("hostsim %s %u: closed (%s): %llu bytes to the guest, %llu bytes to the client",
	         srv->name, c->id, why, (unsigned long long)c->ps.to_guest,
	         (unsigned long long)c->ps.to_client);
	for (struct frontconn **p = &srv->conns; *p; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			break;
		}
	}
	ev_del(srv->loop, &c->h);
	srv->close_client(c);
	if (c->hs) {
		struct hostctl_session *hs = c->hs;
		c->hs = NULL;
		hostctl_end_session(hs); /* rescinds; the closed callback sees c->hs == NULL */
	}
	free(c);
}

void frontconn_pump(struct frontconn *c, struct md9_stream *client)
{
	const char *why = NULL;

	if (!c->hc)
		return;
	switch (pump_run(c->hc, client, &c->ps, &why)) {
	case PUMP_CLIENT_EOF:
		frontconn_close(c, "the client closed the connection");
		return;
	case PUMP_ERROR:
		log_warn("hostsim %s %u: %s", c->srv->name, c->id, why);
		frontconn_close(c, why);
		return;
	case PUMP_OK:
		break;
	}
	ev_mod(c->srv->loop, &c->h, pump_client_events(client, &c->ps));
}
