/* A thin epoll loop: each registered fd carries a handler whose callback runs
 * with the ready events. Level-triggered. Handlers are owned by the caller;
 * a callback may delete any handler, including its own (the loop defers
 * nothing: epoll_wait results for a deleted handler are skipped by generation
 * check). */
#ifndef MD9_EVLOOP_H
#define MD9_EVLOOP_H

#include <stdbool.h>
#include <stdint.h>

struct ev_loop;
struct ev_handler;

typedef void (*ev_fn)(struct ev_handler *h, uint32_t events);

struct ev_handler {
	int fd;
	uint32_t events;
	ev_fn fn;
	void *arg;
	bool active;
	/* Set by ev_set_first: when epoll reports EPOLLERR or EPOLLHUP on this
	 * fd, the handler runs before every other handler of the same round.
	 * For channel fds: a rescinded channel's rings must not be touched by
	 * a socket or timer handler that happens to come first (K4). */
	bool first;
};

struct ev_loop *ev_loop_new(void);
void ev_loop_free(struct ev_loop *l);
/* Add or change interest; events 0 keeps the fd registered but silent. */
int ev_set(struct ev_loop *l, struct ev_handler *h, int fd, uint32_t events, ev_fn fn, void *arg);
/* ev_set, and the handler's errors and hang-ups go first in each round. */
int ev_set_first(struct ev_loop *l, struct ev_handler *h, int fd, uint32_t events, ev_fn fn,
                 void *arg);
int ev_mod(struct ev_loop *l, struct ev_handler *h, uint32_t events);
void ev_del(struct ev_loop *l, struct ev_handler *h);
/* Run one round: wait up to timeout_ms (-1 forever), dispatch. Returns the
 * number of events dispatched or -errno. */
int ev_run_once(struct ev_loop *l, int timeout_ms);
/* Run until ev_stop. */
int ev_run(struct ev_loop *l);
void ev_stop(struct ev_loop *l);

#endif
