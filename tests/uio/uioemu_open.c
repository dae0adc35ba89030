/* libmd9uioemu.so's open(): which paths are the kernel's (a uio node,
 * new_id), uio_open + hv_uio_open over the kernel's socket; and fstat() of
 * the result, a character device as the real node is. */
#include "uioemu.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* KIND_UIO with *minor, KIND_NEW_ID, or -1. Called with the lock held. */
static int classify(int dirfd, const char *path, int *minor)
{
	char dir[PATH_MAX], rdir[PATH_MAX];
	const char *base = strrchr(path, '/');
	size_t dlen;
	char *end;
	long n;

	if (!uioemu_enabled || (path[0] != '/' && dirfd != AT_FDCWD))
		return -1;
	base = base ? base + 1 : path;
	if (strcmp(base, "new_id") != 0) {
		if (strncmp(base, "uio", 3) != 0 || base[3] < '0' || base[3] > '9')
			return -1;
		n = strtol(base + 3, &end, 10);
		if (*end || n < 0 || n > INT32_MAX)
			return -1;
		*minor = (int)n;
	}
	dlen = (size_t)(base - path);
	if (dlen == 0)
		strcpy(dir, ".");
	else if (dlen >= sizeof(dir))
		return -1;
	else {
		memcpy(dir, path, dlen);
		dir[dlen] = '\0';
	}
	if (!uioemu_kernel_hello() || !realpath(dir, rdir))
		return -1;
	if (strcmp(base, "new_id") == 0)
		return strcmp(rdir, uioemu_kernel_newid_dir) == 0 ? KIND_NEW_ID : -1;
	return strcmp(rdir, uioemu_kernel_dev) == 0 ? KIND_UIO : -1;
}

/* uio_open + hv_uio_open. Lock held. */
static int open_uio(const char *path, int flags, int minor)
{
	struct uioemu_req q = {.type = UIOEMU_OPEN, .minor = (uint32_t)minor};
	struct uioemu_open_reply r;
	int fds[UIOEMU_NFDS], nfds = UIOEMU_NFDS, s, t, err;
	struct efile *f;
	ssize_t n;
	void *st;

	/* The node's permission check, with md9's credentials. */
	t = uioemu_real.open(path, (flags & O_ACCMODE) | O_CLOEXEC | O_NOCTTY);
	if (t < 0)
		return -1;
	f = uioemu_table_slot();
	if (!f) {
		uioemu_real.close(t);
		return uioemu_fail(EMFILE);
	}
	if (uioemu_real.fstat(t, &f->st) < 0) {
		err = errno;
		uioemu_real.close(t);
		uioemu_table_release(f);
		return uioemu_fail(err);
	}
	uioemu_real.close(t);

	s = uioemu_kernel_connect(flags & O_CLOEXEC);
	if (s < 0) {
		uioemu_table_release(f);
		uioemu_say("uioemu: open %s: the emulated kernel: %s", path, strerror(-s));
		return uioemu_fail(ENXIO);
	}
	n = uioemu_kernel_transact(s, &q, &r, sizeof(r), fds, &nfds);
	if (n != (ssize_t)sizeof(r) || (r.status == 0 && nfds != UIOEMU_NFDS) || r.status > 0) {
		for (int i = 0; i < nfds && n >= 0; i++)
			uioemu_real.close(fds[i]);
		uioemu_real.close(s);
		uioemu_table_release(f);
		return uioemu_fail(EIO);
	}
	if (r.status < 0) {
		uioemu_real.close(s);
		uioemu_table_release(f);
		return uioemu_fail(-r.status);
	}
	memcpy(f->fds, fds, sizeof(fds));
	st = uioemu_real.mmap(NULL, (size_t)uioemu_page_size, PROT_READ, MAP_SHARED,
	                      fds[UIOEMU_FD_STATE], 0);
	if (st == MAP_FAILED) {
		err = errno;
		uioemu_real.close(s); /* the kernel releases the file */
		uioemu_table_release(f);
		return uioemu_fail(err);
	}
	f->state = st;
	q.type = UIOEMU_PIN;
	if (send(s, &q, sizeof(q), MSG_NOSIGNAL) != (ssize_t)sizeof(q)) {
		err = errno;
		uioemu_real.close(s);
		uioemu_table_release(f);
		return uioemu_fail(err);
	}
	if (flags & O_NONBLOCK)
		fcntl(s, F_SETFL, O_NONBLOCK);
	f->kind = KIND_UIO;
	f->fd = s;
	f->minor = minor;
	f->info = r;
	return s;
}

static int do_open(int dirfd, const char *path, int flags, mode_t mode, bool at)
{
	int kind, minor = -1, fd;

	uioemu_init();
	if (uioemu_enabled && path) {
		pthread_mutex_lock(&uioemu_table_lock);
		kind = classify(dirfd, path, &minor);
		if (kind == KIND_UIO) {
			fd = open_uio(path, flags, minor);
			pthread_mutex_unlock(&uioemu_table_lock);
			return fd;
		}
		if (kind == KIND_NEW_ID) {
			struct efile *f = uioemu_table_slot();

			fd = uioemu_real.open(path, flags, mode);
			if (fd >= 0 && f) {
				f->kind = KIND_NEW_ID;
				f->fd = fd;
			} else if (f) {
				uioemu_table_release(f);
			}
			pthread_mutex_unlock(&uioemu_table_lock);
			return fd;
		}
		pthread_mutex_unlock(&uioemu_table_lock);
	}
	return at ? uioemu_real.openat(dirfd, path, flags, mode)
	          : uioemu_real.open(path, flags, mode);
}

static mode_t mode_arg(int flags, va_list ap)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

EXPORT int open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	return do_open(AT_FDCWD, path, flags, mode, false);
}

EXPORT int open64(const char *path, int flags, ...) __attribute__((alias("open")));

EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	return do_open(dirfd, path, flags, mode, true);
}

EXPORT int openat64(int dirfd, const char *path, int flags, ...) __attribute__((alias("openat")));

/* _FORTIFY_SOURCE's checked open (glibc's fcntl2.h). */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);

EXPORT int __open_2(const char *path, int flags)
{
	return do_open(AT_FDCWD, path, flags, 0, false);
}

EXPORT int __open64_2(const char *path, int flags) __attribute__((alias("__open_2")));

static void char_dev(const struct efile *f, struct stat *st)
{
	*st = f->st;
	st->st_mode = S_IFCHR | (f->st.st_mode & 07777);
	st->st_rdev = makedev(UIO_MAJOR, (unsigned)f->minor);
	st->st_size = 0;
	st->st_blocks = 0;
}

EXPORT int fstat(int fd, struct stat *st)
{
	struct efile *f;

	uioemu_init();
	f = uioemu_table_lookup(fd);
	if (!f)
		return uioemu_real.fstat(fd, st);
	if (f->kind == KIND_UIO) {
		char_dev(f, st);
		pthread_mutex_unlock(&uioemu_table_lock);
		return 0;
	}
	pthread_mutex_unlock(&uioemu_table_lock);
	return uioemu_real.fstat(fd, st);
}

EXPORT int fstat64(int fd, struct stat64 *st)
{
	return fstat(fd, (struct stat *)st);
}
