#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool md9_fs_is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int md9_fs_mkdirs(const char *dir)
{
	char p[PATH_MAX];

	if (strlen(dir) >= sizeof(p))
		return -ENAMETOOLONG;
	strcpy(p, dir);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* The file to write: path itself, or what a symlink at path points to
 * (resolved fully, so the link survives the rename). */
static int target_of(const char *path, char *out)
{
	struct stat st;

	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
		if (!realpath(path, out))
			return errno == ENOENT ? -ENOENT : -errno; /* dangling: refused */
		return 0;
	}
	if (strlen(path) >= PATH_MAX)
		return -ENAMETOOLONG;
	strcpy(out, path);
	return 0;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Write text to a fresh mkstemp file beside target, with mode/owner, fsync,
 * rename over target. */
static int replace(const char *target, const char *text, size_t len, mode_t mode, uid_t uid,
                   gid_t gid)
{
	char dir[PATH_MAX], tmp[PATH_MAX + 32];
	char *slash;
	int fd, err;

	snprintf(dir, sizeof(dir), "%s", target);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if ((err = md9_fs_mkdirs(dir)) < 0)
			return err;
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.md9-XXXXXX", target) >= sizeof(tmp))
		return -ENAMETOOLONG;
	/* mkstemp: O_CREAT|O_EXCL with a random name, mode 0600: nothing
	 * planted can be followed, nobody can read it half-written. */
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = write_all(fd, text, len);
	if (!err && fchown(fd, uid, gid) < 0 && errno != EPERM)
		err = -errno;
	if (!err && fchmod(fd, mode & 07777) < 0)
		err = -errno;
	if (!err && fsync(fd) < 0)
		err = -errno;
	if (close(fd) < 0 && !err)
		err = -errno;
	if (!err && rename(tmp, target) < 0)
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

int md9_fs_write_atomic(const char *path, const char *text, mode_t mode)
{
	char target[PATH_MAX];
	struct stat st;
	int err = target_of(path, target);

	if (err < 0)
		return err;
	if (lstat(target, &st) == 0) {
		if (!S_ISREG(st.st_mode))
			return -EINVAL;
		return replace(target, text, strlen(text), st.st_mode, st.st_uid, st.st_gid);
	}
	return replace(target, text, strlen(text), mode, geteuid(), getegid());
}

int md9_fs_backup(const char *path, const char *backup)
{
	char target[PATH_MAX], *buf = NULL;
	struct stat st;
	size_t len = 0;
	int fd, err;

	if ((err = target_of(path, target)) < 0)
		return err;
	fd = open(target, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (16 << 20)) {
		close(fd);
		return -EINVAL;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (len < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + len, (size_t)st.st_size - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	/* The backup must not follow a link planted at its name either. */
	{
		struct stat bst;
		if (lstat(backup, &bst) == 0 && !S_ISREG(bst.st_mode)) {
			free(buf);
			return -EEXIST;
		}
	}
	err = replace(backup, buf, len, st.st_mode, st.st_uid, st.st_gid);
	free(buf);
	return err;
}

bool md9_fs_root_only(const char *path, char *real, char *why, size_t cap)
{
	struct stat st;
	char dir[PATH_MAX];

	if (!realpath(path, real)) {
		snprintf(why, cap, "%s: %s", path, strerror(errno));
		return false;
	}
	if (stat(real, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(why, cap, "%s is not a regular file", real);
		return false;
	}
	if (st.st_uid != 0 || (st.st_mode & 022)) {
		snprintf(why, cap,
		         "%s is %s (owner uid %u, mode %04o): root would run what another "
		         "user can change",
		         real, st.st_uid != 0 ? "not root's" : "writable by others",
		         (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		return false;
	}
	strcpy(dir, real);
	for (;;) {
		char *slash = strrchr(dir, '/');

		if (!slash)
			break;
		if (slash == dir)
			slash[1] = '\0';
		else
			*slash = '\0';
		if (stat(dir, &st) < 0) {
			snprintf(why, cap, "%s: %s", dir, strerror(errno));
			return false;
		}
		if (st.st_uid != 0 || ((st.st_mode & 022) && !(st.st_mode & S_ISVTX))) {
			snprintf(why, cap,
			         "%s (a directory above %s) is %s (owner uid %u, mode "
			         "%04o): another user could replace the program",
			         dir, real, st.st_uid != 0 ? "not root's" : "writable by others",
			         (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
			return false;
		}
		if (strcmp(dir, "/") == 0)
			break;
	}
	return true;
}
