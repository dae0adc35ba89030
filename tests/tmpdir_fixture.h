/* One scratch directory per cmocka test program (test_config.c,
 * test_inikey.c, test_path.c, test_status.c): the group setup makes it
 * under /tmp, named for the program, the group teardown removes it with
 * everything in it. */
#ifndef MD9_TESTS_TMPDIR_FIXTURE_H
#define MD9_TESTS_TMPDIR_FIXTURE_H

#include <stddef.h>

/* The directory's path, valid between tmpdir_setup and tmpdir_teardown. */
extern char tmpdir_path[64];

/* cmocka group setup and teardown (cmocka_run_group_tests). */
int tmpdir_setup(void **state);
int tmpdir_teardown(void **state);

/* Write len bytes of data to a new file NAME in the directory; returns its
 * path, which stays valid for the next TMPDIR_PATHS - 1 calls. */
#define TMPDIR_PATHS 8
const char *tmpdir_put(const char *name, const void *data, size_t len);
/* tmpdir_put of a string, without its '\0'. */
const char *tmpdir_put_text(const char *name, const char *text);

#endif
