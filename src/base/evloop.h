/* A thin epoll loop: each registered fd carries a handler whose callback runs
 * with the ready events. Level-triggered. Handlers are owned by the caller;
 * a callback may delete any handler, including its own (the loop defers
 * nothing: epoll_wait results for a deleted handler are skipped by generation
 * check).
 *
 * Timers: the loop keeps every armed ev_timer in one list sorted by deadline
 * (CLOCK_MONOTONIC) and one timerfd set to the earliest. Timers are owned by
 * the caller, like handlers; a callback may arm or cancel any timer,
 * including its own. A timer armed while expired timers run waits for the
 * next round even when its deadline has passed, so a callback that re-arms
 * itself with 0 ms cannot starve the fds. */
#ifndef MD9_EVLOOP_H
#define MD9_EVLOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct ev_loop;
struct ev_handler;
struct ev_timer;

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

typedef void (*ev_timer_fn)(struct ev_timer *t);

struct ev_timer {
	struct timespec deadline;
	ev_timer_fn fn;
	void *arg;
	/* the loop's: */
	struct ev_timer *next;
	bool armed;
	bool fresh; /* armed while due timers ran: waits for the next round */
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
/* Call fn(t) once, ms milliseconds from now (0: in the next round). Arming
 * an armed timer moves it. */
void ev_timer_arm(struct ev_loop *l, struct ev_timer *t, unsigned ms, ev_timer_fn fn, void *arg);
/* The same at an absolute CLOCK_MONOTONIC deadline. */
void ev_timer_arm_at(struct ev_loop *l, struct ev_timer *t, const struct timespec *deadline,
                     ev_timer_fn fn, void *arg);
/* Not armed afterwards (fine when it was not). */
void ev_timer_cancel(struct ev_loop *l, struct ev_timer *t);
/* Run one round: wait up to timeout_ms (-1 forever), dispatch. Returns the
 * number of events dispatched or -errno. */
int ev_run_once(struct ev_loop *l, int timeout_ms);
/* Work that runs after every dispatch round, before the loop waits again
 * (one per loop; NULL removes it). While it returns true it has more to do,
 * and the next epoll_wait does not sleep: events that arrived meanwhile are
 * dispatched first, then the hook runs again. */
void ev_set_post(struct ev_loop *l, bool (*fn)(void *arg), void *arg);
/* Run until ev_stop. */
int ev_run(struct ev_loop *l);
void ev_stop(struct ev_loop *l);

#endif
