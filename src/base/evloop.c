#include "evloop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
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
};

struct ev_loop *ev_loop_new(void)
{
	struct ev_loop *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		free(l);
		return NULL;
	}
	return l;
}

void ev_loop_free(struct ev_loop *l)
{
	if (!l)
		return;
	close(l->epfd);
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

int ev_run(struct ev_loop *l)
{
	l->stop = false;
	while (!l->stop) {
		int rc = ev_run_once(l, -1);
		if (rc < 0)
			return rc;
	}
	return 0;
}

void ev_stop(struct ev_loop *l)
{
	l->stop = true;
}
