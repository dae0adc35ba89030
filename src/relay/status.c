#include "status.h"

#include "daemon.h"
#include "log.h"
#include "session.h"
#include "x224.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* What `md9 status` shows of a session's byte counters: rounded down to
 * STATUS_COUNTER_UNIT and taken at most every STATUS_COUNTER_PERIOD_S. A
 * keystroke moves tens of bytes each way; exact counters polled by a member
 * of the status group would show the rhythm of the typing (the password
 * first). At this grain they show how much a session moved, not when. The
 * exact totals go to the log (root's) when the session ends. */
#define STATUS_COUNTER_UNIT     65536u
#define STATUS_COUNTER_PERIOD_S 4

/* ---- a bounded string builder ---- */

struct sbuf {
	char *p;
	size_t len, cap;
	bool cut; /* STATUS_MAX_OUTPUT reached */
};

static void sb_reserve(struct sbuf *b, size_t more)
{
	size_t want;
	char *np;

	if (b->cut)
		return;
	want = b->len + more + 1;
	if (want > STATUS_MAX_OUTPUT) {
		b->cut = true;
		return;
	}
	if (want <= b->cap)
		return;
	want = want < 4096 ? 4096 : want * 2;
	if (want > STATUS_MAX_OUTPUT)
		want = STATUS_MAX_OUTPUT;
	np = realloc(b->p, want);
	if (!np) {
		b->cut = true;
		return;
	}
	b->p = np;
	b->cap = want;
}

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	sb_reserve(b, (size_t)n);
	if (b->cut)
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* ---- JSON values (jansson) ---- */

/* A JSON string for s. jansson refuses text that is not UTF-8; the only
 * strings here that can be (paths in md9.conf: transport, backend) are then
 * shown with every byte above 0x7f as '?', so the answer stays JSON. */
static json_t *jstr(const char *s)
{
	json_t *j = json_string(s);
	char *ascii;

	if (j)
		return j;
	ascii = strdup(s);
	if (!ascii)
		return NULL;
	for (char *p = ascii; *p; p++)
		if ((unsigned char)*p > 0x7f)
			*p = '?';
	j = json_string(ascii);
	free(ascii);
	return j;
}

/* Seconds (>= 0) to the millisecond, as "%.3f" printed them before. */
static json_t *jsecs(double s)
{
	return json_real((double)(long long)(s * 1000.0 + 0.5) / 1000.0);
}

/* ---- the answer ---- */

static const char *ctrl_state_name(enum ctrl_state s)
{
	switch (s) {
	case CTRL_WAIT_OFFER:
		return "waiting-for-offer";
	case CTRL_WAIT_VERSION:
		return "version-exchange";
	case CTRL_READY:
		return "ready";
	case CTRL_BACKOFF:
		return "backoff";
	}
	return "unknown";
}

static const char *session_state_name(enum session_state s)
{
	switch (s) {
	case SS_CONNECT:
		return "connecting";
	case SS_NEGOTIATE:
		return "negotiating";
	case SS_TLS:
		return "tls-handshake";
	case SS_WAIT_MCS:
		return "waiting-for-mcs";
	case SS_WAIT_RESP:
		return "waiting-for-mcs-response";
	case SS_RELAY:
		return "relaying";
	case SS_DRAIN:
		return "draining";
	}
	return "unknown";
}

/* The server's choice is known once its Connection Confirm was accepted. */
static bool selected_known(const struct session *s)
{
	return s->state == SS_TLS || s->state == SS_WAIT_MCS || s->state == SS_WAIT_RESP ||
	       s->state == SS_RELAY || (s->state == SS_DRAIN && !s->refused);
}

static double age_of(const struct session *s, const struct timespec *now)
{
	return (double)(now->tv_sec - s->started.tv_sec) +
	       (double)(now->tv_nsec - s->started.tv_nsec) / 1e9;
}

/* The session's counters as status shows them (see STATUS_COUNTER_UNIT). */
static void shown_counters(struct session *s, const struct timespec *now, uint64_t *h2s,
                           uint64_t *s2h)
{
	if ((s->shown_at.tv_sec == 0 && s->shown_at.tv_nsec == 0) ||
	    now->tv_sec - s->shown_at.tv_sec >= STATUS_COUNTER_PERIOD_S) {
		s->shown_h2s = s->bytes_h2s / STATUS_COUNTER_UNIT * STATUS_COUNTER_UNIT;
		s->shown_s2h = s->bytes_s2h / STATUS_COUNTER_UNIT * STATUS_COUNTER_UNIT;
		s->shown_at = *now;
	}
	*h2s = s->shown_h2s;
	*s2h = s->shown_s2h;
}

static void format_text(struct sbuf *b, const struct daemon *d, double uptime)
{
	struct timespec now;
	char g[MD9_GUID_STRLEN];

	clock_gettime(CLOCK_MONOTONIC, &now);
	sb_printf(b, "md9 %s (pid %d), up %.0f s\n", MD9_VERSION, (int)getpid(), uptime);
	sb_printf(b, "transport: %s\n", d->cfg.transport);
	sb_printf(b, "server: %s, security %s\n", d->cfg.backend.spec,
	          md9_security_name(d->cfg.security));
	sb_printf(b, "control channel: %s", ctrl_state_name(d->ctrl));
	if (d->ctrl == CTRL_READY)
		sb_printf(b, ", host protocol %u.%u", d->host_version & 0xffff,
		          d->host_version >> 16);
	else if (d->ctrl == CTRL_WAIT_OFFER)
		sb_printf(b, " (the host has not offered the SynthRdp control channel)");
	else if (d->ctrl_failures)
		sb_printf(b, " (%u failure%s in a row)", d->ctrl_failures,
		          d->ctrl_failures == 1 ? "" : "s");
	sb_printf(b, "\n");
	sb_printf(b, "sessions: %u open, %llu since start, max %u\n", d->nsessions,
	          (unsigned long long)d->sessions_total, d->cfg.max_sessions);
	for (struct session *s = d->sessions; s; s = s->next) {
		uint64_t h2s, s2h;

		shown_counters(s, &now, &h2s, &s2h);
		sb_printf(b,
		          "  session %llu: channel %s, %s, age %.0f s, %llu KiB host->server, "
		          "%llu KiB server->host, mode %s, server selected %s\n",
		          (unsigned long long)s->id, md9_guid_format(&s->ch->instance, g),
		          session_state_name(s->state), age_of(s, &now),
		          (unsigned long long)(h2s / 1024), (unsigned long long)(s2h / 1024),
		          md9_security_name(s->adapter.mode),
		          selected_known(s) ? x224_protocol_name(s->adapter.selected)
		                            : (s->refused ? "nothing (refused)" : "(not yet)"));
	}
}

/* Sets o[key] = v (v owned by o, or freed); remembers a failure (out of
 * memory) in *ok. */
static void put(json_t *o, const char *key, json_t *v, bool *ok)
{
	if (json_object_set_new(o, key, v) < 0)
		*ok = false;
}

/* The same as format_text, as one JSON object. NULL when out of memory. */
static json_t *format_json(const struct daemon *d, double uptime)
{
	struct timespec now;
	char g[MD9_GUID_STRLEN], hv[24];
	json_t *root = json_object(), *ctrl = json_object(), *sessions = json_array();
	bool ok = true;

	clock_gettime(CLOCK_MONOTONIC, &now);
	snprintf(hv, sizeof(hv), "%u.%u", d->host_version & 0xffff, d->host_version >> 16);
	put(root, "version", jstr(MD9_VERSION), &ok);
	put(root, "pid", json_integer(getpid()), &ok);
	put(root, "uptime_s", jsecs(uptime), &ok);
	put(root, "transport", jstr(d->cfg.transport), &ok);
	put(root, "server", jstr(d->cfg.backend.spec), &ok);
	put(root, "security", jstr(md9_security_name(d->cfg.security)), &ok);
	put(ctrl, "state", jstr(ctrl_state_name(d->ctrl)), &ok);
	put(ctrl, "offered", json_boolean(d->ctrl_offered), &ok);
	put(ctrl, "failures", json_integer(d->ctrl_failures), &ok);
	put(ctrl, "host_version", d->ctrl == CTRL_READY ? jstr(hv) : json_null(), &ok);
	put(root, "control", ctrl, &ok);
	put(root, "sessions_open", json_integer(d->nsessions), &ok);
	put(root, "sessions_total", json_integer((json_int_t)d->sessions_total), &ok);
	put(root, "max_sessions", json_integer(d->cfg.max_sessions), &ok);
	for (struct session *s = d->sessions; s; s = s->next) {
		json_t *o = json_object();
		uint64_t h2s, s2h;

		shown_counters(s, &now, &h2s, &s2h);
		put(o, "id", json_integer((json_int_t)s->id), &ok);
		put(o, "instance", jstr(md9_guid_format(&s->ch->instance, g)), &ok);
		put(o, "state", jstr(session_state_name(s->state)), &ok);
		/* whole seconds, like the coarse counters: no typing rhythm */
		put(o, "age_s", json_integer((json_int_t)(age_of(s, &now) + 0.5)), &ok);
		put(o, "bytes_host_to_server", json_integer((json_int_t)h2s), &ok);
		put(o, "bytes_server_to_host", json_integer((json_int_t)s2h), &ok);
		put(o, "mode", jstr(md9_security_name(s->adapter.mode)), &ok);
		put(o, "selected_protocol",
		    selected_known(s) ? jstr(x224_protocol_name(s->adapter.selected)) : json_null(),
		    &ok);
		put(o, "refused", json_boolean(s->refused), &ok);
		if (json_array_append_new(sessions, o) < 0)
			ok = false;
	}
	put(root, "sessions", sessions, &ok);
	if (!ok) {
		json_decref(root);
		return NULL;
	}
	return root;
}

char *md9_status_format(const struct daemon *d, double uptime_s, bool json, size_t *len)
{
	struct sbuf b = {0};

	if (json) {
		/* Keys in insertion order (jansson >= 2.8), no spaces, reals
		 * with up to 15 significant digits (so 12.345 stays 12.345). */
		json_t *root = format_json(d, uptime_s);
		char *doc = root ? json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;

		json_decref(root);
		if (doc) {
			sb_printf(&b, "%s\n", doc);
			free(doc);
		} else {
			b.cut = true; /* out of memory: say so below */
		}
	} else {
		format_text(&b, d, uptime_s);
	}
	if (b.cut) {
		/* Bounded output: say so in a form each reader understands. */
		static const char note_text[] = "\n(output cut at the size limit)\n";
		static const char note_json[] = "{\"error\":\"output cut at the size limit\"}\n";
		const char *note = json ? note_json : note_text;

		if (json)
			b.len = 0; /* half a JSON document is no document */
		else if (b.len > STATUS_MAX_OUTPUT - sizeof(note_text))
			b.len = STATUS_MAX_OUTPUT - sizeof(note_text);
		b.cut = false;
		sb_printf(&b, "%s", note);
	}
	if (!b.p) {
		*len = 0;
		return NULL;
	}
	*len = b.len;
	return b.p;
}

/* ---- the server ---- */

struct status_conn {
	struct md9_status *st;
	int fd;
	struct ev_handler h;
	struct timespec deadline;
	char req[STATUS_MAX_REQUEST + 1];
	size_t reqlen;
	char *out;
	size_t outlen, outoff;
};

struct md9_status {
	struct daemon *d;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int lfd, tfd;
	struct ev_handler lh, th;
	struct timespec started;
	struct status_conn conns[STATUS_MAX_CLIENTS];
};

static struct timespec mono(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t;
}

static void arm(struct md9_status *st)
{
	struct itimerspec its = {0};
	bool any = false;

	for (int i = 0; i < STATUS_MAX_CLIENTS; i++) {
		const struct status_conn *c = &st->conns[i];
		if (c->fd < 0)
			continue;
		if (!any || c->deadline.tv_sec < its.it_value.tv_sec ||
		    (c->deadline.tv_sec == its.it_value.tv_sec &&
		     c->deadline.tv_nsec < its.it_value.tv_nsec))
			its.it_value = c->deadline;
		any = true;
	}
	timerfd_settime(st->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void conn_close(struct status_conn *c)
{
	if (c->fd < 0)
		return;
	ev_del(c->st->d->loop, &c->h);
	close(c->fd);
	c->fd = -1;
	free(c->out);
	c->out = NULL;
	c->outlen = c->outoff = c->reqlen = 0;
}

static void conn_write(struct status_conn *c)
{
	while (c->outoff < c->outlen) {
		ssize_t w = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return; /* EPOLLOUT will call again */
			log_debug("status: send: %s", strerror(errno));
			conn_close(c);
			return;
		}
		c->outoff += (size_t)w;
	}
	conn_close(c);
}

static void conn_answer(struct status_conn *c)
{
	struct md9_status *st = c->st;
	struct timespec now = mono();
	double up = (double)(now.tv_sec - st->started.tv_sec) +
	            (double)(now.tv_nsec - st->started.tv_nsec) / 1e9;
	char *nl = memchr(c->req, '\n', c->reqlen);
	size_t n = nl ? (size_t)(nl - c->req) : c->reqlen;

	while (n && (c->req[n - 1] == '\r' || c->req[n - 1] == ' '))
		n--;
	c->req[n] = '\0';
	if (strcmp(c->req, "status") == 0 || n == 0) {
		c->out = md9_status_format(st->d, up, false, &c->outlen);
	} else if (strcmp(c->req, "status json") == 0) {
		c->out = md9_status_format(st->d, up, true, &c->outlen);
	} else {
		static const char bad[] =
		    "error: unknown request (expected \"status\" or \"status json\")\n";
		c->out = strdup(bad);
		c->outlen = c->out ? sizeof(bad) - 1 : 0;
	}
	if (!c->out) {
		conn_close(c);
		return;
	}
	ev_mod(st->d->loop, &c->h, EPOLLOUT);
	conn_write(c);
}

static void on_conn(struct ev_handler *h, uint32_t events)
{
	struct status_conn *c = h->arg;

	if (c->out) {
		conn_write(c);
		return;
	}
	for (;;) {
		ssize_t r = recv(c->fd, c->req + c->reqlen, STATUS_MAX_REQUEST - c->reqlen, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			conn_close(c);
			return;
		}
		if (r == 0) { /* the client shut its side: answer what it sent */
			conn_answer(c);
			return;
		}
		c->reqlen += (size_t)r;
		if (memchr(c->req, '\n', c->reqlen) || c->reqlen == STATUS_MAX_REQUEST) {
			conn_answer(c);
			return;
		}
	}
}

static void on_accept(struct ev_handler *h, uint32_t events)
{
	struct md9_status *st = h->arg;

	for (int k = 0; k < STATUS_MAX_CLIENTS; k++) {
		struct status_conn *c = NULL;
		int fd = accept4(st->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_debug("status: accept: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < STATUS_MAX_CLIENTS && !c; i++)
			if (st->conns[i].fd < 0)
				c = &st->conns[i];
		if (!c) {
			log_debug("status: %d clients already; refusing one", STATUS_MAX_CLIENTS);
			close(fd);
			continue;
		}
		c->fd = fd;
		c->reqlen = 0;
		c->deadline = mono();
		timespec_add_ms(&c->deadline, STATUS_TIMEOUT_MS);
		if (ev_set(st->d->loop, &c->h, fd, EPOLLIN, on_conn, c) < 0) {
			close(fd);
			c->fd = -1;
		}
	}
	arm(st);
}

static void on_timer(struct ev_handler *h, uint32_t events)
{
	struct md9_status *st = h->arg;
	struct timespec now = mono();
	uint64_t n;

	if (read(st->tfd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	for (int i = 0; i < STATUS_MAX_CLIENTS; i++) {
		struct status_conn *c = &st->conns[i];
		if (c->fd >= 0 &&
		    (c->deadline.tv_sec < now.tv_sec ||
		     (c->deadline.tv_sec == now.tv_sec && c->deadline.tv_nsec <= now.tv_nsec))) {
			log_debug("status: a client took too long; closing it");
			conn_close(c);
		}
	}
	arm(st);
}

/* Is something answering at `path` already (another md9)? */
static bool socket_alive(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	bool alive;

	if (fd < 0)
		return false;
	alive = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0 || errno == EAGAIN;
	close(fd);
	return alive;
}

struct md9_status *md9_status_start(struct daemon *d, const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct md9_status *st;
	struct stat sb;
	struct group *gr;
	mode_t old;
	int rc;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_warn("status socket %s: path too long; md9 status is not available", path);
		return NULL;
	}
	strcpy(sa.sun_path, path);
	{
		/* /run/md9 of an md9 started by hand (systemd makes it). */
		char dir[sizeof(sa.sun_path)], *slash;
		strcpy(dir, path);
		slash = strrchr(dir, '/');
		if (slash && slash != dir) {
			*slash = '\0';
			if (mkdir(dir, 0750) == 0)
				log_debug("status socket: created %s", dir);
		}
	}
	if (lstat(path, &sb) == 0) {
		if (!S_ISSOCK(sb.st_mode)) {
			log_warn("status socket %s: exists and is not a socket; md9 status is not "
			         "available",
			         path);
			return NULL;
		}
		if (socket_alive(&sa)) {
			log_warn("status socket %s: another md9 answers there; md9 status is not "
			         "available",
			         path);
			return NULL;
		}
		unlink(path); /* left over from an md9 that did not stop cleanly */
	}
	st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	st->d = d;
	st->lfd = st->tfd = -1;
	strcpy(st->path, path);
	st->started = mono();
	for (int i = 0; i < STATUS_MAX_CLIENTS; i++) {
		st->conns[i].fd = -1;
		st->conns[i].st = st;
	}
	st->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	st->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (st->lfd < 0 || st->tfd < 0)
		goto fail;
	/* Created 0660 from the start: no window in which others may connect. */
	old = umask(0117);
	rc = bind(st->lfd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0)
		goto fail;
	/* The status group (md9-status) when it exists: its members may ask,
	 * and nothing else (the channels' device nodes are md9's alone). A
	 * process not in the group cannot give the socket to it; the file
	 * keeps md9's own group then. */
	gr = getgrnam(d->cfg.status_group);
	if (!gr)
		log_info("status socket %s: no group %s: only root and md9's user may ask", path,
		         d->cfg.status_group);
	else if (gr->gr_gid != getegid() && chown(path, (uid_t)-1, gr->gr_gid) < 0)
		log_warn("status socket %s: cannot give it to group %s (%s): only root and md9's "
		         "user may ask",
		         path, d->cfg.status_group, strerror(errno));
	chmod(path, 0660);
	if (listen(st->lfd, STATUS_MAX_CLIENTS) < 0)
		goto fail_unlink;
	if (ev_set(d->loop, &st->lh, st->lfd, EPOLLIN, on_accept, st) < 0 ||
	    ev_set(d->loop, &st->th, st->tfd, EPOLLIN, on_timer, st) < 0)
		goto fail_unlink;
	log_info("status socket %s: md9 status answers there", path);
	return st;

fail_unlink:
	unlink(path);
fail:
	log_warn("status socket %s: %s; md9 status is not available", path, strerror(errno));
	if (st->lh.active)
		ev_del(d->loop, &st->lh);
	if (st->lfd >= 0)
		close(st->lfd);
	if (st->tfd >= 0)
		close(st->tfd);
	free(st);
	return NULL;
}

void md9_status_stop(struct md9_status *st)
{
	if (!st)
		return;
	for (int i = 0; i < STATUS_MAX_CLIENTS; i++)
		conn_close(&st->conns[i]);
	ev_del(st->d->loop, &st->lh);
	ev_del(st->d->loop, &st->th);
	close(st->lfd);
	close(st->tfd);
	unlink(st->path);
	free(st);
}

/* ---- the client ---- */

static int wait_fd(int fd, short what, const struct timespec *deadline)
{
	for (;;) {
		struct timespec now = mono();
		long ms = (deadline->tv_sec - now.tv_sec) * 1000 +
		          (deadline->tv_nsec - now.tv_nsec) / 1000000;
		struct pollfd p = {.fd = fd, .events = what};
		int r;

		if (ms <= 0)
			return -ETIMEDOUT;
		r = poll(&p, 1, (int)ms);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

int md9_status_query_buf(const char *path, bool json, int timeout_ms, char **answer)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *req = json ? "status json\n" : "status\n";
	size_t reqlen = strlen(req), off = 0, len = 0, cap = 0;
	struct timespec deadline = mono();
	char *buf = NULL;
	int fd, err = 0;

	*answer = NULL;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	timespec_add_ms(&deadline, (unsigned)timeout_ms);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		/* A UNIX connect either completes or fails, except EAGAIN
		 * (backlog full): treat it as a failure too. */
		err = -errno;
		goto out;
	}
	while (off < reqlen) {
		ssize_t w = send(fd, req + off, reqlen - off, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN) {
				err = -errno;
				goto out;
			}
			if ((err = wait_fd(fd, POLLOUT, &deadline)) < 0)
				goto out;
			continue;
		}
		off += (size_t)w;
	}
	for (;;) {
		ssize_t r;

		if (cap - len < 4096) {
			char *nb;
			if (cap >= STATUS_MAX_OUTPUT + 8192) {
				err = -EFBIG;
				goto out;
			}
			nb = realloc(buf, cap + 16384);
			if (!nb) {
				err = -ENOMEM;
				goto out;
			}
			buf = nb;
			cap += 16384;
		}
		r = recv(fd, buf + len, cap - len - 1, 0);
		if (r == 0)
			break;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN) {
				err = -errno;
				goto out;
			}
			if ((err = wait_fd(fd, POLLIN, &deadline)) < 0)
				goto out;
			continue;
		}
		len += (size_t)r;
	}
	if (!buf && !(buf = malloc(1))) {
		err = -ENOMEM;
		goto out;
	}
	buf[len] = '\0';
	*answer = buf;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return err;
}

int md9_status_query(const char *path, bool json, int timeout_ms, FILE *out)
{
	char *a;
	int err = md9_status_query_buf(path, json, timeout_ms, &a);

	if (err)
		return err;
	fputs(a, out);
	free(a);
	return 0;
}
