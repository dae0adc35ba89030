#include "status.h"

#include "log.h"
#include "timespec.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
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

void md9_status_counters(struct status_counters *c, uint64_t h2s, uint64_t s2h,
                         const struct timespec *now)
{
	if ((c->at.tv_sec == 0 && c->at.tv_nsec == 0) ||
	    now->tv_sec - c->at.tv_sec >= STATUS_COUNTER_PERIOD_S) {
		c->h2s = h2s / STATUS_COUNTER_UNIT * STATUS_COUNTER_UNIT;
		c->s2h = s2h / STATUS_COUNTER_UNIT * STATUS_COUNTER_UNIT;
		c->at = *now;
	}
}

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

/* Sets o[key] = v (v owned by o, or freed); remembers a failure (out of
 * memory) in *ok. */
static void put(json_t *o, const char *key, json_t *v, bool *ok)
{
	if (json_object_set_new(o, key, v) < 0)
		*ok = false;
}

/* ---- the answer ---- */

/* What the text answer says of the server's choice. */
static const char *selected_text(const struct status_session *s)
{
	return s->selected ? s->selected : s->refused ? "nothing (refused)" : "(not yet)";
}

static void format_text(struct sbuf *b, const struct status_snapshot *d, double uptime)
{
	char g[MD9_GUID_STRLEN];

	sb_printf(b, "md9 %s (pid %d), up %.0f s\n", MD9_VERSION, (int)getpid(), uptime);
	sb_printf(b, "transport: %s\n", d->transport);
	sb_printf(b, "server: %s, security %s\n", d->server, d->security);
	sb_printf(b, "control channel: %s", ctrl_state_name(d->ctrl));
	if (d->ctrl == CTRL_READY)
		sb_printf(b, ", host protocol %u.%u", d->host_version & 0xffff,
		          d->host_version >> 16);
	else if (d->ctrl == CTRL_WAIT_OFFER)
		sb_printf(b, " (the host has not offered the SynthRdp control channel)");
	else if (d->ctrl == CTRL_WAIT_READY)
		sb_printf(b, " (offered; its uio device is not ready: %s)",
		          d->ctrl_why ? d->ctrl_why : "");
	else if (d->ctrl_failures)
		sb_printf(b, " (%u failure%s in a row)", d->ctrl_failures,
		          d->ctrl_failures == 1 ? "" : "s");
	sb_printf(b, "\n");
	sb_printf(b, "sessions: %u open, %llu since start, max %u\n", d->nsessions,
	          (unsigned long long)d->sessions_total, d->max_sessions);
	for (unsigned i = 0; i < d->nsessions; i++) {
		const struct status_session *s = &d->sessions[i];
		sb_printf(b,
		          "  session %llu: channel %s, %s, age %.0f s, %llu KiB host->server, "
		          "%llu KiB server->host, mode %s, server selected %s\n",
		          (unsigned long long)s->id, md9_guid_format(&s->instance, g), s->state,
		          s->age_s, (unsigned long long)(s->bytes_h2s / 1024),
		          (unsigned long long)(s->bytes_s2h / 1024), s->mode, selected_text(s));
	}
}

/* The same as format_text, as one JSON object. NULL when out of memory. */
static json_t *format_json(const struct status_snapshot *d, double uptime)
{
	char g[MD9_GUID_STRLEN], hv[24];
	json_t *root = json_object(), *ctrl = json_object(), *sessions = json_array();
	bool ok = true;

	snprintf(hv, sizeof(hv), "%u.%u", d->host_version & 0xffff, d->host_version >> 16);
	put(root, "version", jstr(MD9_VERSION), &ok);
	put(root, "pid", json_integer(getpid()), &ok);
	put(root, "uptime_s", jsecs(uptime), &ok);
	put(root, "transport", jstr(d->transport), &ok);
	put(root, "server", jstr(d->server), &ok);
	put(root, "security", jstr(d->security), &ok);
	put(ctrl, "state", jstr(ctrl_state_name(d->ctrl)), &ok);
	put(ctrl, "offered", json_boolean(d->ctrl_offered), &ok);
	put(ctrl, "failures", json_integer(d->ctrl_failures), &ok);
	put(ctrl, "host_version", d->ctrl == CTRL_READY ? jstr(hv) : json_null(), &ok);
	put(root, "control", ctrl, &ok);
	put(root, "sessions_open", json_integer(d->nsessions), &ok);
	put(root, "sessions_total", json_integer((json_int_t)d->sessions_total), &ok);
	put(root, "max_sessions", json_integer(d->max_sessions), &ok);
	for (unsigned i = 0; i < d->nsessions; i++) {
		const struct status_session *s = &d->sessions[i];
		json_t *o = json_object();

		put(o, "id", json_integer((json_int_t)s->id), &ok);
		put(o, "instance", jstr(md9_guid_format(&s->instance, g)), &ok);
		put(o, "state", jstr(s->state), &ok);
		/* whole seconds, like the coarse counters: no typing rhythm */
		put(o, "age_s", json_integer((json_int_t)(s->age_s + 0.5)), &ok);
		put(o, "bytes_host_to_server", json_integer((json_int_t)s->bytes_h2s), &ok);
		put(o, "bytes_server_to_host", json_integer((json_int_t)s->bytes_s2h), &ok);
		put(o, "mode", jstr(s->mode), &ok);
		put(o, "selected_protocol", s->selected ? jstr(s->selected) : json_null(), &ok);
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

char *md9_status_format(const struct status_snapshot *d, double uptime_s, bool json, size_t *len)
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
	struct ev_timer timer; /* STATUS_TIMEOUT_MS from accept */
	char req[STATUS_MAX_REQUEST + 1];
	size_t reqlen;
	char *out;
	size_t outlen, outoff;
};

struct md9_status {
	struct ev_loop *loop;
	status_snapshot_fn snapshot;
	void *arg;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int lfd;
	struct ev_handler lh;
	struct timespec started;
	struct status_conn conns[STATUS_MAX_CLIENTS];
};

static void conn_close(struct status_conn *c)
{
	if (c->fd < 0)
		return;
	ev_del(c->st->loop, &c->h);
	ev_timer_cancel(c->st->loop, &c->timer);
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
	struct timespec now = timespec_now();
	double up = timespec_diff_s(&st->started, &now);
	char *nl = memchr(c->req, '\n', c->reqlen);
	size_t n = nl ? (size_t)(nl - c->req) : c->reqlen;
	bool json;

	while (n && (c->req[n - 1] == '\r' || c->req[n - 1] == ' '))
		n--;
	c->req[n] = '\0';
	json = strcmp(c->req, "status json") == 0;
	if (strcmp(c->req, "status") == 0 || n == 0 || json) {
		struct status_snapshot snap = {0};
		st->snapshot(st->arg, &snap);
		c->out = md9_status_format(&snap, up, json, &c->outlen);
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
	ev_mod(st->loop, &c->h, EPOLLOUT);
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

static void on_conn_timeout(struct ev_timer *t)
{
	log_debug("status: a client took too long; closing it");
	conn_close(t->arg);
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
		if (ev_set(st->loop, &c->h, fd, EPOLLIN, on_conn, c) < 0) {
			close(fd);
			c->fd = -1;
			continue;
		}
		ev_timer_arm(st->loop, &c->timer, STATUS_TIMEOUT_MS, on_conn_timeout, c);
	}
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

struct md9_status *md9_status_start(struct ev_loop *loop, const char *path, const char *group,
                                    status_snapshot_fn snapshot, void *arg)
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
	st->loop = loop;
	st->snapshot = snapshot;
	st->arg = arg;
	st->lfd = -1;
	strcpy(st->path, path);
	st->started = timespec_now();
	for (int i = 0; i < STATUS_MAX_CLIENTS; i++) {
		st->conns[i].fd = -1;
		st->conns[i].st = st;
	}
	st->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (st->lfd < 0)
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
	gr = getgrnam(group);
	if (!gr)
		log_info("status socket %s: no group %s: only root and md9's user may ask", path,
		         group);
	else if (gr->gr_gid != getegid() && chown(path, (uid_t)-1, gr->gr_gid) < 0)
		log_warn("status socket %s: cannot give it to group %s (%s): only root and md9's "
		         "user may ask",
		         path, group, strerror(errno));
	chmod(path, 0660);
	if (listen(st->lfd, STATUS_MAX_CLIENTS) < 0)
		goto fail_unlink;
	if (ev_set(loop, &st->lh, st->lfd, EPOLLIN, on_accept, st) < 0)
		goto fail_unlink;
	log_info("status socket %s: md9 status answers there", path);
	return st;

fail_unlink:
	unlink(path);
fail:
	log_warn("status socket %s: %s; md9 status is not available", path, strerror(errno));
	if (st->lh.active)
		ev_del(loop, &st->lh);
	if (st->lfd >= 0)
		close(st->lfd);
	free(st);
	return NULL;
}

void md9_status_stop(struct md9_status *st)
{
	if (!st)
		return;
	for (int i = 0; i < STATUS_MAX_CLIENTS; i++)
		conn_close(&st->conns[i]);
	ev_del(st->loop, &st->lh);
	close(st->lfd);
	unlink(st->path);
	free(st);
}
