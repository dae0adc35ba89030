#include "evloop.h"

#include "timespec.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define EV_BATCH 64

struct ev_loop {
	int epfd;
	bool stop;
	/* Handlers deleted during the current dispatch round; their pending
	 * events in this round must not run. */
	struct ev_handler *dead[EV_BATCH * 8];
	int ndead;
	bool dispatching;
	bool (*post)(void *arg);
	void *post_arg;
	/* Armed timers, earliest deadline first (equal deadlines: first armed
	 * first); tfd is set to the head's deadline, or disarmed. */
	struct ev_timer *timers;
	int tfd;
	struct ev_handler tfd_h;
	struct timespec tfd_at; /* what tfd is set to; {0, 0}: disarmed */
	bool running_timers;    /* inside on_timerfd */
};

static void on_timerfd(struct ev_handler *h, uint32_t events);

struct ev_loop *ev_loop_new(void)
{
	struct ev_loop *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (l->epfd < 0 || l->tfd < 0 || ev_set(l, &l->tfd_h, l->tfd, EPOLLIN, on_timerfd, l) < 0) {
		if (l->epfd >= 0)
			close(l->epfd);
		if (l->tfd >= 0)
			close(l->tfd);
		free(l);
		return NULL;
	}
	return l;
}

void ev_loop_free(struct ev_loop *l)
{
	if (l) {
		close(l->tfd);
		close(l->epfd);
	}
	free(l);
}

int ev_set(struct ev_loop *l, struct ev_handler *h, int fd, uint32_t events, ev_fn fn, void *arg)
{
	struct epoll_event ev = {.events = events, .data.ptr = h};

	h->first = false;
	if (h->active && h->fd == fd) {
		h->fn = fn;
		h->arg = arg;
		return ev_mod(l, h, events);
	}
	if (h->active)
		ev_del(l, h);
	h->fd = fd;
	h->events = events;
	h->fn = fn;
	h->arg = arg;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	h->active = true;
	return 0;
}

int ev_set_first(struct ev_loop *l, struct ev_handler *h, int fd, uint32_t events, ev_fn fn,
                 void *arg)
{
	int rc = ev_set(l, h, fd, events, fn, arg);

	if (rc == 0)
		h->first = true;
	return rc;
}

int ev_mod(struct ev_loop *l, struct ev_handler *h, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = h};

	if (!h->active)
		return -EINVAL;
	if (h->events == events)
		return 0;
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, h->fd, &ev) < 0)
		return -errno;
	h->events = events;
	return 0;
}

void ev_del(struct ev_loop *l, struct ev_handler *h)
{
	if (!h->active)
		return;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, h->fd, NULL);
	h->active = false;
	if (l->dispatching && l->ndead < EV_BATCH * 8)
		l->dead[l->ndead++] = h;
}

static bool is_dead(const struct ev_loop *l, const struct ev_handler *h)
{
	for (int i = 0; i < l->ndead; i++)
		if (l->dead[i] == h)
			return true;
	return false;
}

/* ---- timers ---- */

/* Point tfd at the earliest deadline. An absolute deadline of {0, 0} would
 * disarm a timerfd; no CLOCK_MONOTONIC reading is that small. */
static void set_timerfd(struct ev_loop *l)
{
	struct itimerspec its = {0};

	if (l->timers)
		its.it_value = l->timers->deadline;
	if (its.it_value.tv_sec == l->tfd_at.tv_sec && its.it_value.tv_nsec == l->tfd_at.tv_nsec)
		return;
	timerfd_settime(l->tfd, TFD_TIMER_ABSTIME, &its, NULL);
	l->tfd_at = its.it_value;
}

static void unlink_timer(struct ev_loop *l, struct ev_timer *t)
{
	for (struct ev_timer **p = &l->timers; *p; p = &(*p)->next) {
		if (*p == t) {
			*p = t->next;
			break;
		}
	}
	t->next = NULL;
	t->armed = false;
}

void ev_timer_arm_at(struct ev_loop *l, struct ev_timer *t, const struct timespec *deadline,
                     ev_timer_fn fn, void *arg)
{
	struct ev_timer **p = &l->timers;

	if (t->armed)
		unlink_timer(l, t);
	t->deadline = *deadline;
	t->fn = fn;
	t->arg = arg;
	t->fresh = l->running_timers;
	while (*p && !timespec_before(deadline, &(*p)->deadline))
		p = &(*p)->next;
	t->next = *p;
	*p = t;
	t->armed = true;
	set_timerfd(l);
}

void ev_timer_arm(struct ev_loop *l, struct ev_timer *t, unsigned ms, ev_timer_fn fn, void *arg)
{
	struct timespec at = timespec_in_ms(ms);

	ev_timer_arm_at(l, t, &at, fn, arg);
}

void ev_timer_cancel(struct ev_loop *l, struct ev_timer *t)
{
	if (!t->armed)
		return;
	unlink_timer(l, t);
	set_timerfd(l);
}

/* Run the timers that were due when tfd fired. Each is unlinked before its
 * callback, which may then arm or cancel anything. Timers armed from here on
 * are fresh and wait for the next round: their deadline is not before `now`,
 * so they sort after every due timer, and the first fresh one ends the walk. */
static void on_timerfd(struct ev_handler *h, uint32_t events)
{
	struct ev_loop *l = h->arg;
	struct timespec now = timespec_now();
	uint64_t n;

	if (read(l->tfd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	l->tfd_at = (struct timespec){0};
	l->running_timers = true;
	while (l->timers && !l->timers->fresh && !timespec_before(&now, &l->timers->deadline)) {
		struct ev_timer *t = l->timers;

		l->timers = t->next;
		t->next = NULL;
		t->armed = false;
		t->fn(t);
	}
	l->running_timers = false;
	for (struct ev_timer *t = l->timers; t; t = t->next)
		t->fresh = false;
	set_timerfd(l);
}

int ev_run_once(struct ev_loop *l, int timeout_ms)
{
	struct epoll_event evs[EV_BATCH];
	bool urgent[EV_BATCH];
	int n = epoll_wait(l->epfd, evs, EV_BATCH, timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	/* Decided before anything runs: a handler may change itself. */
	for (int i = 0; i < n; i++) {
		const struct ev_handler *h = evs[i].data.ptr;

		urgent[i] = h->first && (evs[i].events & (EPOLLERR | EPOLLHUP));
	}
	l->dispatching = true;
	l->ndead = 0;
	/* Pass 0: errors and hang-ups of "first" handlers; pass 1: the rest. */
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < n; i++) {
			struct ev_handler *h = evs[i].data.ptr;

			if (urgent[i] != (pass == 0))
				continue;
			/* A handler freed and reused in this round is also in dead[]. */
			if (is_dead(l, h) || !h->active)
				continue;
			h->fn(h, evs[i].events);
		}
	}
	l->dispatching = false;
	l->ndead = 0;
	return n;
}

void ev_set_post(struct ev_loop *l, bool (*fn)(void *arg), void *arg)
{
	l->post = fn;
	l->post_arg = arg;
}

int ev_run(struct ev_loop *l)
{
	bool more = false;

	l->stop = false;
	while (!l->stop) {
		int rc = ev_run_once(l, more ? 0 : -1);
		if (rc < 0)
			return rc;
		more = l->post && !l->stop && l->post(l->post_arg);
	}
	return 0;
}

void ev_stop(struct ev_loop *l)
{
	l->stop = true;
}
