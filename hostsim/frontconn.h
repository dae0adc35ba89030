/* What md9-hostsim's two front ends (raw.c, rdpfront.c) share: a listener,
 * its list of client connections, and each connection's life: accepted,
 * given a session, pumped, closed with one log line. */
#ifndef HOSTSIM_FRONTCONN_H
#define HOSTSIM_FRONTCONN_H

#include "front.h"
#include "hostctl.h"

struct frontconn;

struct frontconn_server {
	/* Set by the front end before frontconn_listen: */
	struct ev_loop *loop;
	struct hostctl *ctl;
	const char *name;  /* in every connection's log lines: "hostsim raw 3: ..." */
	const char *title; /* in the listener's: "hostsim: raw front end on ..." */
	/* A connection was accepted on fd (non-blocking): make it and call
	 * frontconn_add, or close fd. */
	void (*accepted)(struct frontconn_server *srv, int fd);
	/* Close the client's end (its stream or socket); the session is ended
	 * and the connection freed after. */
	void (*close_client)(struct frontconn *c);

	int lfd;
	struct ev_handler lh;
	unsigned nconn;
	struct frontconn *conns; /* every open connection, for frontconn_stop */
};

/* The first member of a front end's connection (frontconn_close frees it). */
struct frontconn {
	struct frontconn_server *srv;
	struct frontconn *next;
	struct ev_handler h; /* the client's fd */
	struct hostctl_session *hs;
	struct hostchan *hc; /* while the guest has the channel open */
	struct pump_state ps;
	unsigned id;
};

/* Listen on addr (front_listen). Returns the port, or -1 (logged). */
int frontconn_listen(struct frontconn_server *srv, const char *addr, bool allow_remote);
/* Close every connection and the listener. */
void frontconn_stop(struct frontconn_server *srv);
/* Number c, put it on the list and watch fd for events with fn. */
void frontconn_add(struct frontconn_server *srv, struct frontconn *c, int fd, uint32_t events,
                   ev_fn fn);
/* Log why with the bytes moved, close the client, end the session (the
 * channel is rescinded; the closed callback then sees c->hs == NULL) and
 * free c. */
void frontconn_close(struct frontconn *c, const char *why);
/* Relay between client and the open channel (pump_run); closes c when
 * either side ends or fails. */
void frontconn_pump(struct frontconn *c, struct md9_stream *client);

#endif
