/* Lookups in passwd(5)- and group(5)-format files: "name:password:id:..."
 * one entry a line; a group's last field is its comma-separated members.
 * md9 setup and doctor read these files under a root that need not be the
 * running system's (a fake tree, an image being built), so they read the
 * file itself instead of asking NSS (getpwnam). */
#ifndef MD9_PASSWD_H
#define MD9_PASSWD_H

#include <stdbool.h>
#include <stddef.h>

/* The id (third field) of `name` in the file at path; -1 when the file or
 * the entry is missing or its id is not a number. */
long md9_passwd_id(const char *path, const char *name);

/* The name of the first entry whose id is `id`, copied to out; false when
 * there is none. */
bool md9_passwd_name(const char *path, long id, char *out, size_t cap);

/* Is `user` among the members of `group` in the group file at path? 1 yes,
 * 0 no, -1 no such group (or no file). */
int md9_passwd_member(const char *path, const char *group, const char *user);

#endif
