/* md9's daemon: the control channel's state machine (protocol.md §3), the
 * sessions it starts, and the event loop that drives both. The host is never
 * a reason to exit: every failure of the control channel leads back, after a
 * bounded backoff, to opening it again. */
#ifndef MD9_DAEMON_H
#define MD9_DAEMON_H

#include "evloop.h"
#include "pipe.h"
#include "settings.h"
#include "transport.h"

#include <stdint.h>
#include <time.h>

struct session;
struct md9_status;

enum ctrl_state {
	CTRL_WAIT_OFFER,   /* the control channel is not offered (yet) */
	CTRL_WAIT_VERSION, /* version request sent */
	CTRL_READY,        /* version accepted; waiting for CreateSession */
	CTRL_BACKOFF,      /* failed; reopening after a delay */
};

struct daemon_pending_list {
	struct daemon_pending {
		struct md9_guid instance;
		struct timespec deadline;
	} v[8];
	int n;
};

/* What the daemon's caller does at three points of its life (the service
 * manager's notifications, the configuration). Any may be NULL. */
struct daemon_hooks {
	void *arg;
	/* md9 serves: the status socket is up, the transport polled once. */
	void (*ready)(void *arg);
	/* SIGHUP: read the configuration again and call daemon_reconfigure. */
	void (*reload)(void *arg);
	/* The loop ended (a signal, or the transport failed); sessions close next. */
	void (*stopping)(void *arg);
};

struct daemon {
	struct daemon_settings set;
	struct daemon_hooks hooks;
	struct ev_loop *loop;
	struct md9_transport *tp;
	struct ev_handler tp_h, sig_h, defer_h;
	int sigfd, deferfd;
	struct ev_timer ctrl_timer;   /* VersionResponse deadline, or end of the backoff */
	struct ev_timer open_retry;   /* channels in `opening` are tried again */
	struct ev_timer expect_timer; /* the earliest give-up in `expected` */
	struct ev_timer rescan;       /* transports without an event fd are polled */

	/* control channel */
	enum ctrl_state ctrl;
	struct md9_channel *ctrl_ch;
	struct ev_handler ctrl_h;
	struct pipe_rx ctrl_in;
	struct pipe_tx ctrl_out;
	uint32_t host_version;
	unsigned ctrl_failures; /* consecutive, for the backoff */
	bool ctrl_offered;

	/* Data channels named by CreateSession but not offered yet (deadline:
	 * when md9 stops waiting), and those whose open returned -EAGAIN (uio
	 * node not ready yet; deadline: when md9 gives up). */
	struct daemon_pending_list expected, opening;

	struct session *sessions; /* list */
	unsigned nsessions;
	struct session *deferred; /* sessions with work left after their budget */
	uint64_t sessions_total;
	bool stopping;
	int exit_code;
	struct md9_status *status; /* `md9 status` socket (status.c), NULL if none */
};

/* Sessions ask the daemon to run them again soon (budget used up, or TLS
 * holding decrypted bytes the socket will not announce). */
void daemon_defer(struct daemon *d, struct session *s);
/* Sessions tell the daemon they are gone (called from session_free). */
void daemon_session_gone(struct daemon *d, struct session *s);

/* The three steps of a daemon's life, in this order, so that the caller can
 * do what needs root between them: daemon_open sets up the loop and signals,
 * opens the transport and binds the SynthRdp classes to it (root on uio:
 * new_id); daemon_run starts the status socket and serves until SIGINT or
 * SIGTERM. 0 / -1 (logged); daemon_run returns the exit status. */
struct daemon *daemon_new(const struct daemon_settings *set, const struct daemon_hooks *hooks);
int daemon_open(struct daemon *d);
int daemon_run(struct daemon *d);
void daemon_free(struct daemon *d);
/* New settings for the sessions opened from now on; the transport stays. */
void daemon_reconfigure(struct daemon *d, const struct daemon_settings *set);

#endif
