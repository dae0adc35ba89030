/* The file system helpers of ops (setup, doctor). Files root writes on
 * behalf of md9 setup are written so that a local user cannot redirect or
 * weaken them:
 *  - a file is replaced atomically: a new file made with mkstemp (O_EXCL,
 *    a random name) in the target's own directory, written, fsync'ed,
 *    given its mode and owner, then renamed over the target; a planted
 *    symlink at a fixed temporary name cannot catch the write;
 *  - a symlinked target (Debian's /etc/xrdp/cert.pem style) is resolved
 *    and the file it points to is replaced, so the link stays;
 *  - a backup keeps the original's mode and owner (xrdp.ini may be 0640);
 *  - a program root will run (the unit's ExecStart=, the udev rule's RUN+=)
 *    must be a root-owned regular file that only root can change, in
 *    directories only root can change (every component checked). */
#ifndef MD9_FSUTIL_H
#define MD9_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Is path (after resolving symlinks) a directory? */
bool md9_fs_is_dir(const char *path);

/* mkdir -p dir (new directories 0755). 0 or -errno. */
int md9_fs_mkdirs(const char *dir);

/* Replace (or create) path with text. A new file gets `mode`, owner root;
 * an existing one keeps its mode and owner. Missing parent directories are
 * made (0755). 0 or -errno. */
int md9_fs_write_atomic(const char *path, const char *text, mode_t mode);

/* Copy path's current content to backup (atomically, as above) with the
 * original's mode and owner. 0 or -errno. */
int md9_fs_backup(const char *path, const char *backup);

/* Is `path` (after resolving symlinks) a file only root can change: a
 * root-owned regular file, not writable by group or others, each directory
 * above it root-owned and not writable by group or others (a sticky
 * directory like /tmp counts as safe: others cannot replace root's
 * entries in it)? true, or false with a one-line reason in why. The
 * resolved path goes to real (PATH_MAX). */
bool md9_fs_root_only(const char *path, char *real, char *why, size_t cap);

#endif
