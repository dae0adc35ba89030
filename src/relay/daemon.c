#include "daemon.h"

#include "control.h"
#include "ctrlchan.h"
#include "evloop.h"
#include "log.h"
#include "pace.h"
#include "pending.h"
#include "pipe.h"
#include "session.h"
#include "status.h"
#include "timespec.h"
#include "transport.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define OPEN_RETRY_MS     50
#define OPEN_WARN_MS      5000
#define EXPECT_GIVE_UP_MS 10000
#define RESCAN_MS         1000

/* The registry: one slot per open session. A slot is what the session's
 * callbacks point to (its owner); the session itself never sees the daemon. */
struct daemon_slot {
	struct daemon *d;
	struct session *s; /* NULL: free */
	struct md9_guid instance;
	bool deferred;                 /* queued for a turn (session_env.defer) */
	struct daemon_slot *next_turn; /* the queue of turns */
};

struct daemon {
	struct daemon_settings set;
	struct daemon_hooks hooks;
	struct ev_loop *loop;
	struct md9_transport *tp;
	struct ev_handler tp_h, sig_h;
	int sigfd;
	struct ev_timer open_retry;   /* channels in `opening` not warned about are tried again */
	struct ev_timer expect_timer; /* the earliest give-up in `expected` */
	struct ev_timer rescan;       /* transports without an event fd are polled */

	struct ctrlchan ctrl; /* the control channel */

	/* Data channels named by CreateSession but not offered yet (deadline:
	 * when md9 stops waiting), and those whose open returned -EAGAIN (not
	 * ready yet: no uio device or node yet, or the node not ours yet). Those
	 * are retried every OPEN_RETRY_MS until their deadline (OPEN_WARN_MS),
	 * then warned about once and retried on every device event, until they
	 * open or the host rescinds them: not ready is never a reason to drop a
	 * channel (K7 in docs/uio.md). */
	struct pending_list expected, opening;

	struct daemon_slot slots[DAEMON_MAX_SESSIONS];
	/* Sessions that used up their budget, first to ask first (pace.h). */
	struct daemon_slot *turns, *turns_tail;
	struct pace pace;
	unsigned nsessions;
	uint64_t sessions_total;
	bool stopping;
	int exit_code;
	struct md9_status *status;                       /* `md9 status` socket, NULL if none */
	struct status_session snap[DAEMON_MAX_SESSIONS]; /* the status answer's sessions */
};

static void on_open_retry(struct ev_timer *t);
static void on_expect_timeout(struct ev_timer *t);

/* ---- data channels waiting for something ---- */

/* The expected channels' timer runs at the earliest give-up time. */
static void arm_expect_timer(struct daemon *d)
{
	const struct timespec *first = pending_first_deadline(&d->expected);

	if (first)
		ev_timer_arm_at(d->loop, &d->expect_timer, first, on_expect_timeout, d);
	else
		ev_timer_cancel(d->loop, &d->expect_timer);
}

/* Channels whose device is not ready are tried again every OPEN_RETRY_MS
 * until md9 has warned about them; then only on device events. */
static void arm_open_retry(struct daemon *d)
{
	if (!pending_any_unwarned(&d->opening))
		ev_timer_cancel(d->loop, &d->open_retry);
	else if (!d->open_retry.armed)
		ev_timer_arm(d->loop, &d->open_retry, OPEN_RETRY_MS, on_open_retry, d);
}

/* ---- sessions ---- */

/* A session asks for another turn: to the back of the queue. */
static void on_session_defer(void *owner)
{
	struct daemon_slot *slot = owner;
	struct daemon *d = slot->d;

	if (slot->deferred)
		return;
	slot->deferred = true;
	slot->next_turn = NULL;
	if (d->turns)
		d->turns_tail->next_turn = slot;
	else
		d->turns = slot;
	d->turns_tail = slot;
}

static void on_session_gone(void *owner)
{
	struct daemon_slot *slot = owner;
	struct daemon *d = slot->d;
	struct daemon_slot *prev = NULL;

	for (struct daemon_slot **p = &d->turns; *p; prev = *p, p = &(*p)->next_turn) {
		if (*p == slot) {
			*p = slot->next_turn;
			if (d->turns_tail == slot)
				d->turns_tail = prev;
			break;
		}
	}
	slot->s = NULL;
	slot->deferred = false;
	slot->next_turn = NULL;
	d->nsessions--;
}

/* The event loop's post hook: one turn for the session that has waited
 * longest (it goes to the back if it uses up this one too). While the queue
 * is not empty the loop polls without sleeping and dispatches whatever
 * arrived before the next turn: a small message waits behind at most one
 * budget, however many sessions are busy (pace.h). */
static bool run_turn(void *arg)
{
	struct daemon *d = arg;
	struct daemon_slot *slot = d->turns;

	if (!slot)
		return pace_spin(&d->pace);
	d->turns = slot->next_turn;
	if (!d->turns)
		d->turns_tail = NULL;
	slot->deferred = false;
	slot->next_turn = NULL;
	if (slot->s)
		session_resume(slot->s); /* may end it, or queue it again */
	return d->turns != NULL || pace_spin(&d->pace);
}

static struct session *session_on(struct daemon *d, const struct md9_guid *inst)
{
	for (int i = 0; i < DAEMON_MAX_SESSIONS; i++)
		if (d->slots[i].s && md9_guid_eq(&d->slots[i].instance, inst))
			return d->slots[i].s;
	return NULL;
}

/* Start a session on ch (an open data channel) in a free slot. */
static void start_session(struct daemon *d, struct daemon_slot *slot, struct md9_channel *ch)
{
	struct session_env env = {
	    .loop = d->loop,
	    .set = d->set.session, /* a copy: SIGHUP does not reach running sessions */
	    .id = d->sessions_total + 1,
	    .owner = slot,
	    .pace = &d->pace,
	    .defer = on_session_defer,
	    .gone = on_session_gone,
	};
	struct md9_guid inst = ch->instance;
	struct session *s = session_new(&env, ch);

	if (!s)
		return;
	d->sessions_total++;
	d->nsessions++;
	slot->d = d;
	slot->s = s;
	slot->instance = inst;
	slot->deferred = false;
	slot->next_turn = NULL;
	session_start(s); /* may end it already */
}

/* The status answer: the daemon's part, then each session's own. */
static void snapshot(void *arg, struct status_snapshot *out)
{
	struct daemon *d = arg;
	unsigned n = 0;

	out->transport = d->set.transport;
	out->server = d->set.session.backend.spec;
	out->security = md9_security_name(d->set.session.security);
	out->ctrl = d->ctrl.state;
	out->ctrl_offered = d->ctrl.offered;
	out->ctrl_failures = d->ctrl.failures;
	out->ctrl_why = d->ctrl.why;
	out->host_version = d->ctrl.host_version;
	out->sessions_total = d->sessions_total;
	out->max_sessions = d->set.max_sessions;
	for (int i = 0; i < DAEMON_MAX_SESSIONS; i++) {
		if (!d->slots[i].s)
			continue;
		session_snapshot(d->slots[i].s, &d->snap[n]);
		/* oldest first */
		for (unsigned j = n++; j > 0 && d->snap[j - 1].id > d->snap[j].id; j--) {
			struct status_session t = d->snap[j];
			d->snap[j] = d->snap[j - 1];
			d->snap[j - 1] = t;
		}
	}
	out->sessions = d->snap;
	out->nsessions = n;
}

static void forget_pending(struct daemon *d, const struct md9_guid *inst)
{
	pending_remove(&d->expected, inst);
	pending_remove(&d->opening, inst);
	/* A deadline of what was just forgotten must not fire. */
	arm_expect_timer(d);
	arm_open_retry(d);
}

/* Open a data channel and start its session. */
static void open_data(struct daemon *d, const struct md9_guid *inst, const char *why)
{
	struct daemon_slot *slot = NULL;
	struct md9_channel *ch;
	char g[MD9_GUID_STRLEN];
	int rc;

	md9_guid_format(inst, g);
	if (session_on(d, inst)) {
		log_debug("data channel %s: a session is already open on it", g);
		forget_pending(d, inst);
		return;
	}
	rc = d->tp->ops->open(d->tp, inst, &ch);
	if (rc == -EAGAIN) {
		/* Not ready is never a reason to drop the channel (K7). */
		int added = pending_add(&d->opening, inst, OPEN_WARN_MS);

		if (added > 0)
			log_debug("data channel %s: not ready yet (%s); retrying", g, d->tp->why);
		else if (added < 0)
			log_warn("data channel %s: not ready (%s), and %d others wait already; "
			         "dropped",
			         g, d->tp->why, d->opening.n);
		arm_open_retry(d);
		return;
	}
	if (rc == -ENOENT) {
		pending_remove(&d->opening, inst); /* it went away meanwhile */
		arm_open_retry(d);
		if (pending_add(&d->expected, inst, EXPECT_GIVE_UP_MS) > 0) {
			log_debug("data channel %s: not offered yet; waiting for it", g);
			arm_expect_timer(d);
		}
		return;
	}
	forget_pending(d, inst);
	if (rc == -ENODEV) {
		/* The kernel kept a rescinded device (K3): the transport said so. */
		log_warn("data channel %s: cannot open: %s", g, d->tp->why);
		return;
	}
	if (rc < 0) {
		log_warn("data channel %s: cannot open: %s", g, strerror(-rc));
		return;
	}
	for (int i = 0; i < DAEMON_MAX_SESSIONS && !slot; i++)
		if (!d->slots[i].s)
			slot = &d->slots[i];
	if (d->nsessions >= d->set.max_sessions || !slot) {
		/* Opened only to be closed: the host sees the channel close and
		 * ends the client's connection at once instead of waiting. */
		log_warn("data channel %s: refusing a session: %u sessions open (max_sessions); "
		         "closing the channel",
		         g, d->nsessions);
		ch->tp->ops->close(ch);
		return;
	}
	log_debug("data channel %s opened (%s)", g, why);
	start_session(d, slot, ch);
}

/* ---- device events ---- */

/* The host's CreateSession names a data channel. */
static void on_create_session(void *arg, const struct md9_guid *instance)
{
	open_data(arg, instance, "CreateSession");
}

static void on_dev_event(void *arg, const struct md9_dev_event *ev)
{
	struct daemon *d = arg;
	char g[MD9_GUID_STRLEN];

	md9_guid_format(&ev->instance, g);
	if (md9_guid_eq(&ev->class_id, &md9_guid_control_class)) {
		if (ev->kind == MD9_DEV_OFFER)
			ctrlchan_offer(&d->ctrl, &ev->instance);
		else
			ctrlchan_rescind(&d->ctrl);
		return;
	}
	if (!md9_guid_eq(&ev->class_id, &md9_guid_data_class))
		return;
	if (ev->kind == MD9_DEV_OFFER) {
		log_debug("data channel %s offered", g);
		open_data(d, &ev->instance, "offered");
	} else {
		struct session *s = session_on(d, &ev->instance);

		log_debug("data channel %s rescinded", g);
		forget_pending(d, &ev->instance);
		/* End its session now, not when its doorbell is read: the host
		 * may offer the instance again in the same batch of events (the
		 * next client), and open_data would take the dying session for a
		 * live one and drop the new offer and its CreateSession. */
		if (s)
			session_rescinded(s);
	}
}

static void poll_transport(struct daemon *d)
{
	if (d->stopping)
		return;
	if (d->tp->ops->poll_events(d->tp, on_dev_event, d) < 0) {
		log_err("the %s transport failed; stopping", d->tp->ops->name);
		d->exit_code = 1;
		ev_stop(d->loop);
	}
}

static void retry_opens(struct daemon *d, bool from_timer);

static void on_transport(struct ev_handler *h, uint32_t events)
{
	struct daemon *d = h->arg;

	poll_transport(d);
	/* Something changed (a device, or a node's owner or mode): what was
	 * not ready may be now. */
	retry_opens(d, false);
}

/* ---- timers ---- */

static void warn_never_offered(void *arg, const struct md9_guid *inst)
{
	char g[MD9_GUID_STRLEN];

	(void)arg;
	log_warn("CreateSession named data channel %s, which the host never offered",
	         md9_guid_format(inst, g));
}

static void on_expect_timeout(struct ev_timer *t)
{
	struct daemon *d = t->arg;
	struct timespec now = timespec_now();

	pending_expire(&d->expected, &now, warn_never_offered, NULL);
	arm_expect_timer(d);
}

/* Try again what was not ready. From the timer: only what has not been
 * warned about yet, and warn about what waited OPEN_WARN_MS. From a device
 * event: everything. */
static void retry_opens(struct daemon *d, bool from_timer)
{
	struct timespec now = timespec_now();
	char g[MD9_GUID_STRLEN];

	if (d->stopping)
		return;
	if (!from_timer)
		ctrlchan_retry(&d->ctrl);
	for (int i = 0; i < d->opening.n; i++) {
		struct md9_guid inst = d->opening.v[i].instance;
		int before = d->opening.n;

		if (from_timer && d->opening.v[i].warned)
			continue;
		open_data(d, &inst, "retry");
		if (d->opening.n < before) {
			i--; /* opened, or given up: the entry is gone */
			continue;
		}
		struct pending *p = pending_find(&d->opening, &inst);

		if (p && !p->warned && !timespec_before(&now, &p->deadline)) {
			log_warn(
			    "data channel %s: still not ready after %u s: %s; md9 retries when "
			    "the device changes",
			    md9_guid_format(&inst, g), OPEN_WARN_MS / 1000, d->tp->why);
			p->warned = true;
		}
	}
	arm_open_retry(d);
}

static void on_open_retry(struct ev_timer *t)
{
	retry_opens(t->arg, true);
}

/* A transport without an event fd is polled for offers and rescinds. */
static void on_rescan(struct ev_timer *t)
{
	struct daemon *d = t->arg;

	poll_transport(d);
	retry_opens(d, false); /* polled: a rescan is how md9 sees a device change */
	ev_timer_arm(d->loop, &d->rescan, RESCAN_MS, on_rescan, d);
}

/* ---- signals and configuration ---- */

void daemon_reconfigure(struct daemon *d, const struct daemon_settings *set)
{
	char transport[sizeof(d->set.transport)], status_socket[sizeof(d->set.status_socket)];
	char status_group[sizeof(d->set.status_group)];
	struct md9_roots roots; /* fixed, like the transport that uses them */

	if (strcmp(set->transport, d->set.transport) != 0)
		log_warn("reload: the transport cannot change while running; keeping %s",
		         d->set.transport);
	if (strcmp(set->status_socket, d->set.status_socket) != 0 ||
	    strcmp(set->status_group, d->set.status_group) != 0)
		log_warn("reload: status_socket and status_group change only at a restart");
	memcpy(transport, d->set.transport, sizeof(transport));
	memcpy(status_socket, d->set.status_socket, sizeof(status_socket));
	memcpy(status_group, d->set.status_group, sizeof(status_group));
	roots = d->set.roots;
	d->set = *set;
	d->set.roots = roots;
	memcpy(d->set.transport, transport, sizeof(transport));
	memcpy(d->set.status_socket, status_socket, sizeof(status_socket));
	memcpy(d->set.status_group, status_group, sizeof(status_group));
}

static void on_signal(struct ev_handler *h, uint32_t events)
{
	struct daemon *d = h->arg;
	struct signalfd_siginfo si;

	while (read(d->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			if (d->hooks.reload)
				d->hooks.reload(d->hooks.arg);
		} else {
			log_info("signal %u: stopping", si.ssi_signo);
			d->stopping = true;
			ev_stop(d->loop);
		}
	}
}

struct daemon *daemon_new(const struct daemon_settings *set, const struct daemon_hooks *hooks)
{
	struct daemon *d = calloc(1, sizeof(*d));

	if (!d) {
		log_err("out of memory");
		return NULL;
	}
	d->set = *set;
	if (hooks)
		d->hooks = *hooks;
	d->sigfd = -1;
	d->ctrl.state = CTRL_WAIT_OFFER;
	return d;
}

int daemon_open(struct daemon *d)
{
	sigset_t mask;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	d->loop = ev_loop_new();
	d->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (!d->loop || d->sigfd < 0) {
		log_err("cannot set up the event loop: %s", strerror(errno));
		return -1;
	}
	ev_set(d->loop, &d->sig_h, d->sigfd, EPOLLIN, on_signal, d);
	ev_set_post(d->loop, run_turn, d);

	d->tp = md9_transport_new(d->set.transport, &d->set.roots, d->loop);
	if (!d->tp)
		return -1;
	ctrlchan_init(&d->ctrl, d->loop, d->tp, on_create_session, d);
	if (d->tp->ops->bind_class(d->tp, &md9_guid_control_class) < 0 ||
	    d->tp->ops->bind_class(d->tp, &md9_guid_data_class) < 0) {
		log_err("cannot bind the SynthRdp classes to the %s transport", d->tp->ops->name);
		return -1;
	}
	return 0;
}

int daemon_run(struct daemon *d)
{
	int efd;

	if (d->set.status_socket[0])
		d->status = md9_status_start(d->loop, d->set.status_socket, d->set.status_group,
		                             snapshot, d);
	efd = d->tp->ops->event_fd(d->tp);
	if (efd >= 0)
		ev_set(d->loop, &d->tp_h, efd, EPOLLIN, on_transport, d);
	log_info("md9 %s running: transport %s, server %s, security %s", MD9_VERSION,
	         d->set.transport, d->set.session.backend.spec,
	         md9_security_name(d->set.session.security));
	if (d->set.session.peer.has_user)
		log_info("the server must run as %s (uid %u), root or md9's own uid",
		         d->set.session.peer.name, (unsigned)d->set.session.peer.uid);
	else
		log_info(
		    "the server must run as root or md9's own uid (no server_user, no user xrdp)");
	poll_transport(d);
	if (efd < 0)
		ev_timer_arm(d->loop, &d->rescan, RESCAN_MS, on_rescan, d);
	if (d->hooks.ready)
		d->hooks.ready(d->hooks.arg);
	if (d->ctrl.state == CTRL_WAIT_OFFER && !d->ctrl.offered)
		log_info("waiting for the host to offer the SynthRdp control channel");

	if (ev_run(d->loop) < 0)
		d->exit_code = 1;
	if (d->hooks.stopping)
		d->hooks.stopping(d->hooks.arg);
	md9_status_stop(d->status);
	d->status = NULL;

	for (int i = 0; i < DAEMON_MAX_SESSIONS; i++)
		if (d->slots[i].s)
			session_close(d->slots[i].s, "md9 is stopping");
	ctrlchan_close(&d->ctrl);
	return d->exit_code;
}

void daemon_free(struct daemon *d)
{
	if (!d)
		return;
	if (d->tp)
		d->tp->ops->destroy(d->tp);
	ev_loop_free(d->loop);
	if (d->sigfd >= 0)
		close(d->sigfd);
	free(d);
}
