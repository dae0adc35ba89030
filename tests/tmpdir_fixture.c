/* The scratch directory shared by the file-reading tests: tmpdir_fixture.h. */
#include "tmpdir_fixture.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

char tmpdir_path[64]; /* fits a unix socket path inside it (sun_path: 108) */

int tmpdir_setup(void **state)
{
	(void)state;
	/* program_invocation_short_name (glibc, _GNU_SOURCE): a directory left
	 * behind by a crash names the test that made it. */
	snprintf(tmpdir_path, sizeof(tmpdir_path), "/tmp/md9-%s-XXXXXX",
	         program_invocation_short_name);
	assert_non_null(mkdtemp(tmpdir_path));
	return 0;
}

int tmpdir_teardown(void **state)
{
	char cmd[sizeof(tmpdir_path) + 16];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir_path);
	return system(cmd) == 0 ? 0 : -1;
}

const char *tmpdir_put(const char *name, const void *data, size_t len)
{
	static char paths[TMPDIR_PATHS][sizeof(tmpdir_path) + 64];
	static unsigned next;
	char *p = paths[next++ % TMPDIR_PATHS];
	FILE *f;

	snprintf(p, sizeof(paths[0]), "%s/%s", tmpdir_path, name);
	f = fopen(p, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	return p;
}

const char *tmpdir_put_text(const char *name, const char *text)
{
	return tmpdir_put(name, text, strlen(text));
}
