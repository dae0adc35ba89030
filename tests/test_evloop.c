/* The event loop's timers (src/base/evloop.c): deadline order, equal
 * deadlines in arming order, moving and cancelling (also from inside a
 * callback), and a timer that re-arms itself with 0 ms firing once per round
 * so that fds still get their turn. Its post hook: run after every round,
 * and while it says it has more the loop does not sleep, but events that
 * arrive in between are dispatched before it runs again. */
#include "evloop.h"
#include "timespec.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct rec {
	char order[16];
	int n;
	struct ev_loop *l;
	struct ev_timer *victim; /* cancelled by on_cancel */
	int rearms;              /* on_rearm re-arms itself this many times */
};

struct tagged {
	struct ev_timer t;
	struct rec *r;
	char tag;
};

static void on_fire(struct ev_timer *t)
{
	struct tagged *x = t->arg;

	x->r->order[x->r->n++] = x->tag;
}

/* Run the loop until r->n reaches want, for at most ms. */
static void run_until(struct ev_loop *l, struct rec *r, int want, int ms)
{
	struct timespec end = timespec_in_ms((unsigned)ms), now;

	while (r->n < want) {
		now = timespec_now();
		if (!timespec_before(&now, &end))
			fail_msg("only %d of %d timers fired within %d ms", r->n, want, ms);
		assert_true(ev_run_once(l, 50) >= 0);
	}
}

/* A loop and four timers tagged 'a'..'d' that record into r. */
static struct ev_loop *fixture(struct rec *r, struct tagged t[4])
{
	struct ev_loop *l = ev_loop_new();

	assert_non_null(l);
	*r = (struct rec){.l = l};
	for (int i = 0; i < 4; i++)
		t[i] = (struct tagged){.r = r, .tag = (char)('a' + i)};
	return l;
}

static void test_order(void **state)
{
	struct rec r;
	struct tagged t[4], *a = &t[0], *b = &t[1], *c = &t[2], *d = &t[3];
	struct ev_loop *l = fixture(&r, t);
	struct timespec at = timespec_in_ms(40);

	(void)state;
	ev_timer_arm(l, &a->t, 60, on_fire, a);
	ev_timer_arm(l, &b->t, 20, on_fire, b);
	ev_timer_arm_at(l, &c->t, &at, on_fire, c);
	ev_timer_arm_at(l, &d->t, &at, on_fire, d); /* same deadline as c: after c */
	assert_true(a->t.armed && b->t.armed && c->t.armed);
	run_until(l, &r, 4, 5000);
	assert_memory_equal(r.order, "bcda", 4);
	assert_false(a->t.armed || b->t.armed || c->t.armed || d->t.armed);
	ev_loop_free(l);
}

static void on_cancel(struct ev_timer *t)
{
	struct tagged *x = t->arg;

	on_fire(t);
	ev_timer_cancel(x->r->l, x->r->victim);
}

static void test_move_and_cancel(void **state)
{
	struct rec r;
	struct tagged t[4], *a = &t[0], *b = &t[1], *c = &t[2], *d = &t[3];
	struct ev_loop *l = fixture(&r, t);

	(void)state;
	/* a is moved from 10 s to 10 ms; b is cancelled before it is due. */
	ev_timer_arm(l, &a->t, 10000, on_fire, a);
	ev_timer_arm(l, &b->t, 30, on_fire, b);
	ev_timer_arm(l, &a->t, 10, on_fire, a);
	ev_timer_cancel(l, &b->t);
	ev_timer_cancel(l, &b->t); /* twice is fine */
	/* c, due at the same time as d, cancels d from its callback. */
	r.victim = &d->t;
	ev_timer_arm(l, &c->t, 20, on_cancel, c);
	ev_timer_arm(l, &d->t, 20, on_fire, d);
	run_until(l, &r, 2, 5000);
	assert_memory_equal(r.order, "ac", 2);
	assert_false(d->t.armed);
	/* nothing left: the timerfd is disarmed, the loop sleeps */
	assert_int_equal(ev_run_once(l, 100), 0);
	assert_int_equal(r.n, 2);
	ev_loop_free(l);
}

static void on_rearm(struct ev_timer *t)
{
	struct tagged *x = t->arg;

	on_fire(t);
	if (x->r->rearms-- > 0)
		ev_timer_arm(x->r->l, t, 0, on_rearm, x);
}

static void on_efd(struct ev_handler *h, uint32_t events)
{
	uint64_t v;
	int *seen = h->arg;

	assert_int_equal(read(h->fd, &v, sizeof(v)), sizeof(v));
	(*seen)++;
}

static void test_rearm_zero_waits_a_round(void **state)
{
	struct ev_loop *l = ev_loop_new();
	struct rec r = {.l = l, .rearms = 5};
	struct tagged a = {.r = &r, .tag = 'a'};
	struct ev_handler h = {0};
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), seen = 0;
	uint64_t one = 1;

	(void)state;
	assert_true(efd >= 0);
	assert_int_equal(ev_set(l, &h, efd, EPOLLIN, on_efd, &seen), 0);
	ev_timer_arm(l, &a.t, 0, on_rearm, &a);
	for (int round = 1; round <= 6; round++) {
		int before = r.n;
		assert_int_equal(write(efd, &one, sizeof(one)), sizeof(one));
		/* each round runs the due timer at most once and the fd too */
		while (r.n == before)
			assert_true(ev_run_once(l, 1000) > 0);
		assert_int_equal(r.n, before + 1);
		if (seen < round)
			assert_true(ev_run_once(l, 1000) > 0);
		assert_int_equal(seen, round);
	}
	assert_int_equal(r.n, 6);
	assert_false(a.t.armed);
	ev_del(l, &h);
	close(efd);
	ev_loop_free(l);
}

struct post_rec {
	struct ev_loop *l;
	int efd;
	int calls;
	char order[16];
	int n;
};

static void on_post_efd(struct ev_handler *h, uint32_t events)
{
	struct post_rec *p = h->arg;
	uint64_t v;

	assert_int_equal(read(h->fd, &v, sizeof(v)), sizeof(v));
	p->order[p->n++] = 'E';
}

/* Has more for 3 calls; the second makes an event; the fourth stops. */
static bool post(void *arg)
{
	struct post_rec *p = arg;
	uint64_t one = 1;

	p->order[p->n++] = 'P';
	if (++p->calls == 2)
		assert_int_equal(write(p->efd, &one, sizeof(one)), sizeof(one));
	if (p->calls == 4)
		ev_stop(p->l);
	return p->calls < 4;
}

static void test_post_hook(void **state)
{
	struct post_rec p = {.l = ev_loop_new()};
	struct ev_handler h = {0};
	uint64_t one = 1;

	(void)state;
	assert_non_null(p.l);
	p.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(p.efd >= 0);
	assert_int_equal(ev_set(p.l, &h, p.efd, EPOLLIN, on_post_efd, &p), 0);
	ev_set_post(p.l, post, &p);
	assert_int_equal(write(p.efd, &one, sizeof(one)), sizeof(one));
	/* Had the loop slept after the first or third call it would never
	 * return (nothing else happens): SIGALRM ends the test, failed. */
	alarm(10);
	assert_int_equal(ev_run(p.l), 0);
	alarm(0);
	assert_int_equal(p.n, 6);
	assert_memory_equal(p.order, "EPPEPP", 6);
	ev_del(p.l, &h);
	close(p.efd);
	ev_loop_free(p.l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_order),
	    cmocka_unit_test(test_move_and_cancel),
	    cmocka_unit_test(test_rearm_zero_waits_a_round),
	    cmocka_unit_test(test_post_hook),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
