/* Reading files md9 looks at (configuration, sysfs and procfs attributes,
 * xrdp's and the system's files under a root): bounded, whole, and
 * NUL-terminated, so that a parser never sees half a file. */
#ifndef MD9_TEXTFILE_H
#define MD9_TEXTFILE_H

#include <stddef.h>
#include <sys/types.h>

/* Read the file at path (relative to dirfd, or absolute with AT_FDCWD) into
 * buf, NUL-terminated. Its length, -EFBIG when it holds cap - 1 bytes or
 * more (nothing is cut short), or -errno. */
ssize_t md9_textfile_read_into(int dirfd, const char *path, char *buf, size_t cap);

/* The whole file at path, malloc'ed and NUL-terminated (*len, when not
 * NULL, its length). NULL with *err = -errno, or -EFBIG beyond max bytes. */
char *md9_textfile_read(const char *path, size_t max, size_t *len, int *err);

#endif
