/* How busy sessions share md9's time with interactive ones
 * (src/relay/pace.c): short turns only while some session is interactive,
 * never longer than the configured budget, and the bounded poll after
 * interactive traffic: it ends PACE_SPIN_NS after the last small pass, and
 * an md9 that has had no interactive traffic never polls (idle CPU 0). */
#include "pace.h"
#include "timespec.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

static void test_budget(void **state)
{
	struct pace p = {0};

	(void)state;
	assert_int_equal(pace_budget(NULL, 1u << 20), 1u << 20);
	assert_false(pace_interactive(&p));
	assert_int_equal(pace_budget(&p, 1u << 20), 1u << 20);
	pace_note_interactive(&p);
	assert_true(pace_interactive(&p));
	assert_int_equal(pace_budget(&p, 1u << 20), PACE_SHORT_TURN);
	/* A budget already below the short turn is kept. */
	assert_int_equal(pace_budget(&p, 4096), 4096);
	/* The hold ends: bulk gets its whole budget back. */
	p.interactive_until_ns = timespec_now_ns() - 1;
	assert_false(pace_interactive(&p));
	assert_int_equal(pace_budget(&p, 1u << 20), 1u << 20);
}

static void test_spin_is_bounded(void **state)
{
	struct pace p = {0};
	uint64_t start, end;

	(void)state;
	assert_false(pace_spin(NULL));
	assert_false(pace_spin(&p)); /* no interactive traffic: sleep */
	start = timespec_now_ns();
	pace_note_interactive(&p);
	assert_true(pace_spin(&p));
	/* It says "poll" until PACE_SPIN_NS after the note, then never again
	 * (CLOCK_MONOTONIC only moves forward). */
	while (pace_spin(&p))
		;
	end = timespec_now_ns();
	assert_true(end - start >= PACE_SPIN_NS);
	for (int i = 0; i < 1000; i++)
		assert_false(pace_spin(&p));
	/* The poll ended, the short turns still hold (100 ms). */
	assert_true(pace_interactive(&p));
	/* Each new interactive pass extends the poll from now. */
	pace_note_interactive(&p);
	assert_true(pace_spin(&p));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_budget),
	    cmocka_unit_test(test_spin_is_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
