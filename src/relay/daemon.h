/* md9's daemon: the control channel's state machine (protocol.md §3), the
 * sessions it starts, and the event loop that drives both. The host is never
 * a reason to exit: every failure of the control channel leads back, after a
 * bounded backoff, to opening it again. */
#ifndef MD9_DAEMON_H
#define MD9_DAEMON_H

#include "config.h"
#include "evloop.h"
#include "pipe.h"
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

struct daemon {
	struct md9_config cfg;
	const char *config_path; /* for SIGHUP; NULL = no file */
	bool config_optional;    /* the default path may be missing */
	/* Settings given on the command line, applied over the file again on reload. */
	struct {
		const char *key, *value;
	} cli[16];
	int ncli;
	struct ev_loop *loop;
	struct md9_transport *tp;
	struct ev_handler tp_h, sig_h, timer_h, defer_h;
	int sigfd, timerfd, deferfd;

	/* control channel */
	enum ctrl_state ctrl;
	struct md9_channel *ctrl_ch;
	struct ev_handler ctrl_h;
	struct pipe_rx ctrl_in;
	struct pipe_tx ctrl_out;
	uint32_t host_version;
	unsigned ctrl_failures;      /* consecutive, for the backoff */
	struct timespec ctrl_retry_at;
	bool ctrl_offered;

	/* Data channels named by CreateSession but not offered yet. */
	struct {
		struct md9_guid instance;
		struct timespec since;
	} expected[8];
	int nexpected;

	/* Data instances whose open returned -EAGAIN (uio node not ready yet). */
	struct {
		struct md9_guid instance;
		struct timespec deadline;
	} opening[8];
	int nopening;

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
void timespec_add_ms(struct timespec *t, unsigned ms);

int daemon_run(struct daemon *d);

#endif
