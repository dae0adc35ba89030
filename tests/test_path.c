/* src/base/path.c and textfile.c: joining a root and a path, and reading
 * files whole and bounded. */
#include "path.h"
#include "textfile.h"

#include "tmpdir_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_join(void **state)
{
	char b[32];

	(void)state;
	assert_string_equal(md9_path_join(b, sizeof(b), "/sys", "class/dmi"), "/sys/class/dmi");
	assert_string_equal(md9_path_join(b, sizeof(b), "/tmp/r/", "/etc/x"), "/tmp/r/etc/x");
	assert_string_equal(md9_path_join(b, sizeof(b), "", "/etc/x"), "/etc/x");
	assert_string_equal(md9_path_join(b, sizeof(b), "/", "etc"), "/etc");
	assert_string_equal(md9_path_join(b, sizeof(b), "//", "//etc"), "/etc");
	/* too long: "", never a path cut short */
	assert_string_equal(md9_path_join(b, 8, "/tmp/r", "etc"), "");
	assert_int_equal(md9_path_fmt(b, sizeof(b), "%s/uio%d", "/dev", 3), 0);
	assert_string_equal(b, "/dev/uio3");
	assert_int_equal(md9_path_fmt(b, 6, "%s/uio%d", "/dev", 3), -ENAMETOOLONG);
	assert_string_equal(b, "");
}

static void test_read(void **state)
{
	char buf[8], *big, *t;
	const char *p;
	size_t len;
	int err;

	(void)state;
	p = tmpdir_put("small", "abc\n", 4);
	assert_int_equal(md9_textfile_read_into(AT_FDCWD, p, buf, sizeof(buf)), 4);
	assert_string_equal(buf, "abc\n");
	t = md9_textfile_read(p, 100, &len, &err);
	assert_non_null(t);
	assert_int_equal(len, 4);
	assert_int_equal(err, 0);
	assert_string_equal(t, "abc\n");
	free(t);
	/* a file that fills the buffer is refused, not cut */
	p = tmpdir_put("seven", "1234567", 7);
	assert_int_equal(md9_textfile_read_into(AT_FDCWD, p, buf, sizeof(buf)), -EFBIG);
	/* larger than a read's chunk, and beyond max */
	big = malloc(200000);
	assert_non_null(big);
	memset(big, 'x', 200000);
	p = tmpdir_put("big", big, 200000);
	t = md9_textfile_read(p, 200000, &len, &err);
	assert_non_null(t);
	assert_int_equal(len, 200000);
	assert_int_equal(t[199999], 'x');
	assert_int_equal(t[200000], '\0');
	free(t);
	assert_null(md9_textfile_read(p, 199999, &len, &err));
	assert_int_equal(err, -EFBIG);
	free(big);
	p = tmpdir_put("empty", "", 0);
	t = md9_textfile_read(p, 10, &len, &err);
	assert_non_null(t);
	assert_int_equal(len, 0);
	free(t);
	assert_null(md9_textfile_read("/nonexistent/md9", 10, NULL, &err));
	assert_int_equal(err, -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_join),
	    cmocka_unit_test(test_read),
	};

	return cmocka_run_group_tests(tests, tmpdir_setup, tmpdir_teardown);
}
