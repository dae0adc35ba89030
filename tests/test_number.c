/* md9_number_parse (src/base/number.c), the one parser of numbers from
 * people and the kernel: decimal digits only, no sign, space or prefix;
 * range checked; 64-bit overflow refused. */
#include "number.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>

static void test_accepts(void **state)
{
	uint64_t v = 99;

	(void)state;
	assert_int_equal(md9_number_parse("0", 0, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(md9_number_parse("7", 0, 10, &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(md9_number_parse("600000", 100, 600000, &v), 0);
	assert_int_equal(v, 600000);
	assert_int_equal(md9_number_parse("18446744073709551615", 0, UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	/* leading zeros: still decimal */
	assert_int_equal(md9_number_parse("010", 0, 100, &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(md9_number_parse("00", 0, 100, &v), 0);
	assert_int_equal(v, 0);
}

static void test_refuses(void **state)
{
	static const char *const not_numbers[] = {
	    "",    "+7",  "-7",  " 7",    "7 ", "7\n", "\t7",   "0x10",
	    "1e3", "7.0", "7,0", "seven", "7a", "٣",   "1 000",
	};
	uint64_t v = 42;

	(void)state;
	for (size_t i = 0; i < sizeof(not_numbers) / sizeof(not_numbers[0]); i++) {
		if (md9_number_parse(not_numbers[i], 0, UINT64_MAX, &v) != -EINVAL)
			fail_msg("'%s' was not refused as a number", not_numbers[i]);
		assert_int_equal(v, 42); /* untouched */
	}
	/* numbers outside the range, or beyond 64 bits */
	assert_int_equal(md9_number_parse("0", 1, 64, &v), -ERANGE);
	assert_int_equal(md9_number_parse("65", 1, 64, &v), -ERANGE);
	assert_int_equal(md9_number_parse("18446744073709551616", 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(md9_number_parse("99999999999999999999999", 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(md9_number_parse("99999999999999999999999x", 0, UINT64_MAX, &v), -EINVAL);
	assert_int_equal(v, 42);
}

static void test_hexdigit(void **state)
{
	(void)state;
	assert_int_equal(md9_number_hexdigit('0'), 0);
	assert_int_equal(md9_number_hexdigit('9'), 9);
	assert_int_equal(md9_number_hexdigit('a'), 10);
	assert_int_equal(md9_number_hexdigit('F'), 15);
	assert_int_equal(md9_number_hexdigit('g'), -1);
	assert_int_equal(md9_number_hexdigit(':'), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_accepts),
	    cmocka_unit_test(test_refuses),
	    cmocka_unit_test(test_hexdigit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
