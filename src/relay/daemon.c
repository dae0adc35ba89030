#include "daemon.h"

#include "control.h"
#include "log.h"
#include "notify.h"
#include "privdrop.h"
#include "session.h"
#include "status.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define CTRL_VERSION_TIMEOUT_MS 5000
#define CTRL_BACKOFF_MIN_MS     100
#define CTRL_BACKOFF_MAX_MS     30000
#define OPEN_RETRY_MS           50
#define OPEN_GIVE_UP_MS         5000
#define EXPECT_GIVE_UP_MS       10000
#define RESCAN_MS               1000

void timespec_add_ms(struct timespec *t, unsigned ms)
{
	t->tv_sec += ms / 1000;
	t->tv_nsec += (long)(ms % 1000) * 1000000;
	if (t->tv_nsec >= 1000000000) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000;
	}
}

static struct timespec now_mono(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t;
}

static bool ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static void rearm_timer(struct daemon *d);

/* ---- sessions ---- */

void daemon_defer(struct daemon *d, struct session *s)
{
	uint64_t one = 1;

	if (s->deferred)
		return;
	s->deferred = true;
	s->next_deferred = d->deferred;
	d->deferred = s;
	if (write(d->deferfd, &one, sizeof(one)) < 0)
		log_debug("defer: %s", strerror(errno));
}

void daemon_session_gone(struct daemon *d, struct session *s)
{
	for (struct session **p = &d->sessions; *p; p = &(*p)->next) {
		if (*p == s) {
			*p = s->next;
			d->nsessions--;
			break;
		}
	}
	for (struct session **p = &d->deferred; *p; p = &(*p)->next_deferred) {
		if (*p == s) {
			*p = s->next_deferred;
			break;
		}
	}
}

static void on_defer(struct ev_handler *h, uint32_t events)
{
	struct daemon *d = h->arg;
	uint64_t n;
	struct session *list = d->deferred;

	if (read(d->deferfd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	d->deferred = NULL;
	/* Each session is unlinked before it runs: running may close it or
	 * defer it again onto the new list. */
	while (list) {
		struct session *s = list;
		list = s->next_deferred;
		s->deferred = false;
		s->next_deferred = NULL;
		/* A session closed earlier in this round is no longer on d->sessions. */
		bool alive = false;
		for (struct session *t = d->sessions; t; t = t->next)
			alive |= t == s;
		if (alive)
			session_run(s);
	}
}

static struct session *session_on(struct daemon *d, const struct md9_guid *inst)
{
	for (struct session *s = d->sessions; s; s = s->next)
		if (md9_guid_eq(&s->ch->instance, inst))
			return s;
	return NULL;
}

static void forget_pending(struct daemon *d, const struct md9_guid *inst)
{
	for (int i = 0; i < d->nexpected; i++)
		if (md9_guid_eq(&d->expected[i].instance, inst))
			d->expected[i--] = d->expected[--d->nexpected];
	for (int i = 0; i < d->nopening; i++)
		if (md9_guid_eq(&d->opening[i].instance, inst))
			d->opening[i--] = d->opening[--d->nopening];
	rearm_timer(d); /* a deadline of what was just forgotten must not fire */
}

/* Open a data channel and start its session. */
static void open_data(struct daemon *d, const struct md9_guid *inst, const char *why)
{
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
		for (int i = 0; i < d->nopening; i++)
			if (md9_guid_eq(&d->opening[i].instance, inst))
				return;
		if (d->nopening < (int)(sizeof(d->opening) / sizeof(d->opening[0]))) {
			d->opening[d->nopening].instance = *inst;
			d->opening[d->nopening].deadline = now_mono();
			timespec_add_ms(&d->opening[d->nopening].deadline, OPEN_GIVE_UP_MS);
			d->nopening++;
		}
		rearm_timer(d);
		return;
	}
	if (rc == -ENOENT) {
		for (int i = 0; i < d->nexpected; i++)
			if (md9_guid_eq(&d->expected[i].instance, inst))
				return;
		if (d->nexpected < (int)(sizeof(d->expected) / sizeof(d->expected[0]))) {
			d->expected[d->nexpected].instance = *inst;
			d->expected[d->nexpected].since = now_mono();
			d->nexpected++;
			log_debug("data channel %s: not offered yet; waiting for it", g);
		}
		rearm_timer(d);
		return;
	}
	forget_pending(d, inst);
	if (rc < 0) {
		log_warn("data channel %s: cannot open: %s", g, strerror(-rc));
		return;
	}
	if (d->nsessions >= d->cfg.max_sessions) {
		/* Opened only to be closed: the host sees the channel close and
		 * ends the client's connection at once instead of waiting. */
		log_warn("data channel %s: refusing a session: %u sessions open (max_sessions); "
		         "closing the channel",
		         g, d->nsessions);
		ch->tp->ops->close(ch);
		return;
	}
	log_debug("data channel %s opened (%s)", g, why);
	session_new(d, ch);
}

/* ---- control channel ---- */

static void ctrl_close(struct daemon *d)
{
	if (!d->ctrl_ch)
		return;
	ev_del(d->loop, &d->ctrl_h);
	d->tp->ops->close(d->ctrl_ch);
	d->ctrl_ch = NULL;
}

/* Any failure: close, log why, open again after a bounded backoff. */
static void ctrl_fail(struct daemon *d, const char *why)
{
	unsigned ms = CTRL_BACKOFF_MIN_MS;

	for (unsigned i = 0; i < d->ctrl_failures && ms < CTRL_BACKOFF_MAX_MS; i++)
		ms *= 2;
	if (ms > CTRL_BACKOFF_MAX_MS)
		ms = CTRL_BACKOFF_MAX_MS;
	d->ctrl_failures++;
	ctrl_close(d);
	if (!d->ctrl_offered) {
		log_warn("control channel: %s; waiting for the host to offer it again", why);
		d->ctrl = CTRL_WAIT_OFFER;
	} else {
		log_warn("control channel: %s; reopening in %u ms", why, ms);
		d->ctrl = CTRL_BACKOFF;
		d->ctrl_retry_at = now_mono();
		timespec_add_ms(&d->ctrl_retry_at, ms);
	}
	rearm_timer(d);
}

static void ctrl_send(struct daemon *d, const uint8_t *msg, size_t len)
{
	if (pipe_tx_write(&d->ctrl_out, msg, len) != len) {
		ctrl_fail(d, "no room in the control ring for a request");
		return;
	}
	if (pipe_tx_commit(&d->ctrl_out))
		md9_channel_signal(d->ctrl_ch);
}

static void ctrl_message(struct daemon *d, const uint8_t *buf, size_t len)
{
	struct ctrl_msg m;
	const char *why = NULL;
	char g[MD9_GUID_STRLEN];

	if (ctrl_decode(buf, len, &m, &why) < 0) {
		ctrl_fail(d, why);
		return;
	}
	switch (m.type) {
	case CTRL_VERSION_RESPONSE:
		if (d->ctrl != CTRL_WAIT_VERSION) {
			ctrl_fail(d, "unexpected VersionResponse");
			return;
		}
		if (m.is_accepted != CTRL_ACCEPTED_WITH_VERSION_EXCHANGE) {
			char msg[96];
			snprintf(msg, sizeof(msg), "the host did not accept protocol 1.0 (is_accepted=%u)",
				 m.is_accepted);
			ctrl_fail(d, msg);
			return;
		}
		d->host_version = m.version;
		d->ctrl = CTRL_READY;
		d->ctrl_failures = 0;
		log_info("control channel ready: host accepted SynthRdp protocol %u.%u",
			 m.version & 0xffff, m.version >> 16);
		rearm_timer(d);
		return;
	case CTRL_CREATE_SESSION:
		if (d->ctrl != CTRL_READY) {
			ctrl_fail(d, "CreateSession before the version exchange");
			return;
		}
		log_info("host asks for a session on data channel %s",
			 md9_guid_format(&m.session, g));
		open_data(d, &m.session, "CreateSession");
		return;
	default:
		ctrl_fail(d, "unexpected control message from the host");
	}
}

static void on_ctrl(struct ev_handler *h, uint32_t events)
{
	struct daemon *d = h->arg;

	if (d->tp->ops->ack(d->ctrl_ch) == -EIO) {
		ctrl_fail(d, "the host closed the control channel");
		return;
	}
	for (;;) {
		vmbus_ring_mask(&d->ctrl_ch->rx);
		for (;;) {
			uint8_t buf[CTRL_MAX_LEN];
			ssize_t n = pipe_rx_packet(&d->ctrl_in, buf, sizeof(buf));
			size_t len = (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf);
			if (n < 0) {
				ctrl_fail(d, d->ctrl_in.error);
				return;
			}
			if (n == 0)
				break;
			if (pipe_rx_commit(&d->ctrl_in))
				md9_channel_signal(d->ctrl_ch);
			ctrl_message(d, buf, len);
			if (!d->ctrl_ch)
				return; /* it failed and was closed */
		}
		if (!vmbus_ring_unmask(&d->ctrl_ch->rx))
			break;
	}
	if (d->ctrl_ch->rx.broken)
		ctrl_fail(d, d->ctrl_ch->rx.broken);
}

static void ctrl_open(struct daemon *d)
{
	uint8_t req[CTRL_VERSION_REQUEST_LEN];
	int rc = d->tp->ops->open(d->tp, &md9_guid_control_instance, &d->ctrl_ch);

	if (rc == -ENOENT) {
		d->ctrl = CTRL_WAIT_OFFER;
		d->ctrl_offered = false;
		return;
	}
	if (rc < 0) {
		d->ctrl_ch = NULL;
		ctrl_fail(d, rc == -EAGAIN ? "the control channel's device node is not ready"
					   : strerror(-rc));
		return;
	}
	pipe_rx_init(&d->ctrl_in, &d->ctrl_ch->rx);
	pipe_tx_init(&d->ctrl_out, &d->ctrl_ch->tx);
	ev_set(d->loop, &d->ctrl_h, d->ctrl_ch->fd, EPOLLIN, on_ctrl, d);
	d->ctrl = CTRL_WAIT_VERSION;
	d->ctrl_retry_at = now_mono();
	timespec_add_ms(&d->ctrl_retry_at, CTRL_VERSION_TIMEOUT_MS);
	log_info("control channel opened; sending VersionRequest 1.0");
	ctrl_encode_version_request(req, CTRL_VERSION_1_0, CTRL_VERSION_REQUEST_LEN);
	ctrl_send(d, req, sizeof(req));
	rearm_timer(d);
	if (d->ctrl_ch)
		on_ctrl(&d->ctrl_h, EPOLLIN); /* the answer may be there already */
}

/* ---- device events ---- */

static void on_dev_event(void *arg, const struct md9_dev_event *ev)
{
	struct daemon *d = arg;
	char g[MD9_GUID_STRLEN];

	md9_guid_format(&ev->instance, g);
	if (md9_guid_eq(&ev->class_id, &md9_guid_control_class)) {
		if (ev->kind == MD9_DEV_OFFER) {
			log_info("control channel %s offered", g);
			d->ctrl_offered = true;
			if (d->ctrl == CTRL_WAIT_OFFER)
				ctrl_open(d);
		} else {
			d->ctrl_offered = false;
			if (d->ctrl_ch)
				ctrl_fail(d, "the host rescinded the control channel");
			d->ctrl = CTRL_WAIT_OFFER;
		}
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
			session_close(s, "the host closed the channel");
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

static void on_transport(struct ev_handler *h, uint32_t events)
{
	poll_transport(h->arg);
}

/* ---- timer ---- */

static void rearm_timer(struct daemon *d)
{
	struct timespec next = {0}, t;
	bool any = false;
	struct itimerspec its = {0};

	if (d->ctrl == CTRL_BACKOFF || d->ctrl == CTRL_WAIT_VERSION) {
		next = d->ctrl_retry_at;
		any = true;
	}
	if (d->nopening) {
		t = now_mono();
		timespec_add_ms(&t, OPEN_RETRY_MS);
		if (!any || ts_before(&t, &next))
			next = t;
		any = true;
	}
	for (int i = 0; i < d->nexpected; i++) {
		t = d->expected[i].since;
		timespec_add_ms(&t, EXPECT_GIVE_UP_MS);
		if (!any || ts_before(&t, &next))
			next = t;
		any = true;
	}
	if (d->tp->ops->event_fd(d->tp) < 0) {
		t = now_mono();
		timespec_add_ms(&t, RESCAN_MS);
		if (!any || ts_before(&t, &next))
			next = t;
		any = true;
	}
	if (any) {
		its.it_value = next;
		if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
			its.it_value.tv_nsec = 1;
	}
	timerfd_settime(d->timerfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void on_timer(struct ev_handler *h, uint32_t events)
{
	struct daemon *d = h->arg;
	struct timespec now = now_mono();
	uint64_t n;
	char g[MD9_GUID_STRLEN];

	if (read(d->timerfd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	if (d->tp->ops->event_fd(d->tp) < 0)
		poll_transport(d);
	if (d->ctrl == CTRL_WAIT_VERSION && !ts_before(&now, &d->ctrl_retry_at)) {
		ctrl_fail(d, "no VersionResponse from the host");
	} else if (d->ctrl == CTRL_BACKOFF && !ts_before(&now, &d->ctrl_retry_at)) {
		ctrl_open(d);
	}
	for (int i = 0; i < d->nexpected; i++) {
		struct timespec t = d->expected[i].since;
		timespec_add_ms(&t, EXPECT_GIVE_UP_MS);
		if (!ts_before(&now, &t)) {
			log_warn("CreateSession named data channel %s, which the host never offered",
				 md9_guid_format(&d->expected[i].instance, g));
			d->expected[i--] = d->expected[--d->nexpected];
		}
	}
	for (int i = 0; i < d->nopening; i++) {
		struct md9_guid inst = d->opening[i].instance;
		if (!ts_before(&now, &d->opening[i].deadline)) {
			log_warn("data channel %s: its device node never appeared",
				 md9_guid_format(&inst, g));
			d->opening[i--] = d->opening[--d->nopening];
			continue;
		}
		int before = d->nopening;
		open_data(d, &inst, "retry");
		if (d->nopening < before)
			i--;
	}
	rearm_timer(d);
}

/* ---- signals and configuration ---- */

static void reload(struct daemon *d)
{
	struct md9_config c;
	const char *why;
	char reason[400];

	md9_config_defaults(&c);
	if (d->config_path && md9_config_load(&c, d->config_path, d->config_optional) < 0) {
		log_err("reload failed; keeping the running configuration");
		return;
	}
	for (int i = 0; i < d->ncli; i++) {
		if (md9_config_set(&c, d->cli[i].key, d->cli[i].value, &why) < 0) {
			log_err("reload: --%s %s: %s; keeping the running configuration",
				d->cli[i].key, d->cli[i].value, why);
			return;
		}
	}
	if (md9_config_finish(&c, reason, sizeof(reason)) < 0) {
		log_err("reload: %s; keeping the running configuration", reason);
		return;
	}
	if (strcmp(c.transport, d->cfg.transport) != 0)
		log_warn("reload: the transport cannot change while running; keeping %s",
			 d->cfg.transport);
	strcpy(c.transport, d->cfg.transport);
	d->cfg = c;
	md9_log_set_level(c.log_level);
	if (strcmp(c.status_socket, d->cfg.status_socket) != 0 ||
	    strcmp(c.status_group, d->cfg.status_group) != 0)
		log_warn("reload: status_socket and status_group change only at a restart");
	strcpy(c.status_socket, d->cfg.status_socket);
	strcpy(c.status_group, d->cfg.status_group);
	log_info("configuration reloaded: server %s, security %s (new sessions use it)",
		 c.backend.spec, md9_security_name(c.security));
}

static void on_signal(struct ev_handler *h, uint32_t events)
{
	struct daemon *d = h->arg;
	struct signalfd_siginfo si;

	while (read(d->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			md9_notify_reloading();
			reload(d);
			md9_notify("READY=1");
		} else {
			log_info("signal %u: stopping", si.ssi_signo);
			d->stopping = true;
			ev_stop(d->loop);
		}
	}
}

int daemon_run(struct daemon *d)
{
	sigset_t mask;
	int efd;

	d->sigfd = d->timerfd = d->deferfd = -1;
	d->ctrl = CTRL_WAIT_OFFER;
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	d->loop = ev_loop_new();
	d->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	d->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	d->deferfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!d->loop || d->sigfd < 0 || d->timerfd < 0 || d->deferfd < 0) {
		log_err("cannot set up the event loop: %s", strerror(errno));
		return 1;
	}
	ev_set(d->loop, &d->sig_h, d->sigfd, EPOLLIN, on_signal, d);
	ev_set(d->loop, &d->timer_h, d->timerfd, EPOLLIN, on_timer, d);
	ev_set(d->loop, &d->defer_h, d->deferfd, EPOLLIN, on_defer, d);

	d->tp = md9_transport_new(d->cfg.transport);
	if (!d->tp)
		return 1;
	if (d->tp->ops->bind_class(d->tp, &md9_guid_control_class) < 0 ||
	    d->tp->ops->bind_class(d->tp, &md9_guid_data_class) < 0) {
		log_err("cannot bind the SynthRdp classes to the %s transport", d->tp->ops->name);
		d->tp->ops->destroy(d->tp);
		return 1;
	}
	/* Root was needed for new_id only: from here on md9 runs as `user`. */
	if (md9_privdrop(d->cfg.run_user, d->cfg.allow_root, d->cfg.status_socket) < 0) {
		d->tp->ops->destroy(d->tp);
		return 1;
	}
	if (d->cfg.status_socket[0])
		d->status = md9_status_start(d, d->cfg.status_socket);
	efd = d->tp->ops->event_fd(d->tp);
	if (efd >= 0)
		ev_set(d->loop, &d->tp_h, efd, EPOLLIN, on_transport, d);
	log_info("md9 %s running: transport %s, server %s, security %s", MD9_VERSION,
		 d->cfg.transport, d->cfg.backend.spec, md9_security_name(d->cfg.security));
	if (d->cfg.peer.has_user)
		log_info("the server must run as %s (uid %u), root or md9's own uid",
		         d->cfg.peer.name, (unsigned)d->cfg.peer.uid);
	else
		log_info(
		    "the server must run as root or md9's own uid (no server_user, no user xrdp)");
	poll_transport(d);
	rearm_timer(d);
	md9_notifyf("READY=1\nSTATUS=transport %s, server %s", d->cfg.transport, d->cfg.backend.spec);
	if (d->ctrl == CTRL_WAIT_OFFER && !d->ctrl_offered)
		log_info("waiting for the host to offer the SynthRdp control channel");

	if (ev_run(d->loop) < 0)
		d->exit_code = 1;
	md9_notify("STOPPING=1");
	md9_status_stop(d->status);
	d->status = NULL;

	while (d->sessions)
		session_close(d->sessions, "md9 is stopping");
	ctrl_close(d);
	d->tp->ops->destroy(d->tp);
	ev_loop_free(d->loop);
	close(d->sigfd);
	close(d->timerfd);
	close(d->deferfd);
	return d->exit_code;
}
