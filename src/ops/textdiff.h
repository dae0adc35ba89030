/* Unified diffs of two texts, for people and patch(1): what md9 setup shows
 * before it edits a file. diffutils' `diff -u` writes them (diffutils is
 * Essential on Debian, so every system md9 runs on has it); md9 does not
 * carry a diff algorithm of its own. */
#ifndef MD9_TEXTDIFF_H
#define MD9_TEXTDIFF_H

#include <stdio.h>

/* Write `diff -u --label label_a --label label_b` of a and b to out (nothing
 * when they are equal). 0, or -errno when diff could not run (-ENOENT: no
 * diff installed) or failed (-EIO). */
int md9_textdiff(FILE *out, const char *label_a, const char *label_b, const char *a, const char *b);

#endif
