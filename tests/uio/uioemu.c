/* libmd9uioemu.so: the emulated guest kernel's hands inside md9's process.
 *
 * md9-hostsim --uio-root DIR (hostsim/uiokern.c) plays VMBus and
 * uio_hv_generic; it cannot make real /dev/uioN character devices, so this
 * preload library gives the few calls that touch one the kernel's meaning:
 *
 *   open()  of DIR/dev/uioN   the real open of the placeholder file first
 *                             (the real permission check: EACCES until udev
 *                             gave it a group, ENOENT once it is gone), then
 *                             UIOEMU_OPEN over a new connection to the
 *                             kernel, whose socket becomes md9's fd;
 *   read()  of 4 bytes        uio_read: the event count, EAGAIN, or EIO once
 *                             info->irq is 0 (rescinded) or info is gone;
 *   write() of 4 bytes        uio_write -> hv_uio_irqcontrol under the
 *                             kernel profile: RX interrupt_mask = !value
 *                             (before CVE-2025-40048), signal the host for a
 *                             channel without a monitor (6.10+); EIO after a
 *                             rescind, EINVAL once unregistered;
 *   mmap()  offset M*PAGE     uio_mmap: map M (0 rings, 1 interrupt page,
 *                             2 monitor page), EINVAL beyond its size or
 *                             once unregistered;
 *   fstat()                   a character device, as the real node is;
 *   close(), munmap()         the kernel's release runs only when the file
 *                             is closed AND unmapped (a mapping holds the
 *                             file), as uio_hv_generic's hv_uio_release;
 *   open()/write() of new_id  new_id_store: the class is added and probed,
 *                             EEXIST when already there, EINVAL if no GUID.
 *
 * Why md9's fd is a socket: uio_poll's readiness needs no emulation then.
 * The kernel writes one message per interrupt (EPOLLIN while unread) and,
 * at a rescind, closes its end while a message md9's side sent it (PIN) is
 * still unread: the kernel then sets ECONNRESET on md9's end (net/unix
 * af_unix.c unix_release_sock), so epoll reports EPOLLIN|EPOLLERR|EPOLLHUP,
 * what uio_poll's -EIO gives a real uio fd. No epoll or poll call is
 * interposed for readiness (they are for K4, below).
 *
 * Freed ring pages (K4, 6.11+): when the kernel's hv_uio_remove freed the
 * ring (state page: ring_freed), the ring memory is truncated to nothing
 * here, so every access to md9's old mapping of map 0 faults (SIGBUS) and
 * the test fails loudly. It is done the moment the rescind is delivered to
 * md9 on that fd: an epoll_wait, epoll_pwait(2), poll or ppoll returns it
 * with EPOLLERR/EPOLLHUP (epoll_ctl registrations are recorded to know
 * which returned event is the fd's), or read() or write() on it fail. Not
 * earlier: md9 may be copying into the ring at the instant the host
 * rescinds, or be woken by something else before it could know, a window
 * no user-space driver can close (the kernel's own bug, fixed by
 * page-counted mappings); every access after the fd told md9 is md9's bug
 * and is caught.
 *
 * Everything else passes through untouched; without $MD9_UIO_KERNEL the
 * library does nothing at all. It is built without sanitizers so that it can
 * be preloaded into any program (md9 built with ASan included). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "uioproto.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))
/* The uio major stands for any dynamic one (uio.c uio_major_init). */
#define UIO_MAJOR 240
#define MAX_FILES 64
#define MAX_MAPS  8

enum kind { KIND_UIO, KIND_NEW_ID };

struct emap {
	void *addr;
	size_t len;
	int idx; /* uio map index */
};

struct efile {
	bool used;
	enum kind kind;
	int fd;          /* md9's fd; a private dup once md9 closed it */
	bool app_closed; /* md9 closed it, mappings keep it (KIND_UIO) */
	int minor;
	int fds[UIOEMU_NFDS];
	const volatile struct uioemu_state *state;
	struct uioemu_open_reply info;
	struct stat st; /* the node's, for fstat */
	int32_t event;
	bool poisoned; /* the freed ring was made to fault (K4) */
	/* epoll sets the fd is in: (epfd, the caller's data). */
	struct {
		int epfd;
		uint64_t data;
	} reg[4];
	int nreg;
	struct emap maps[MAX_MAPS];
	int nmaps;
};

static struct {
	int (*open)(const char *, int, ...);
	int (*openat)(int, const char *, int, ...);
	ssize_t (*read)(int, void *, size_t);
	ssize_t (*write)(int, const void *, size_t);
	int (*close)(int);
	void *(*mmap)(void *, size_t, int, int, int, off_t);
	int (*munmap)(void *, size_t);
	int (*fstat)(int, struct stat *);
	int (*epoll_ctl)(int, int, int, struct epoll_event *);
	int (*epoll_wait)(int, struct epoll_event *, int, int);
	int (*epoll_pwait)(int, struct epoll_event *, int, int, const sigset_t *);
	int (*epoll_pwait2)(int, struct epoll_event *, int, const struct timespec *,
	                    const sigset_t *);
	int (*poll)(struct pollfd *, nfds_t, int);
	int (*ppoll)(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);
} real;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct efile files[MAX_FILES];
static int nfiles; /* entries in use; read without the lock as a fast path */
static bool enabled;
static char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static bool hello_done;
static char sys_real[PATH_MAX], dev_real[PATH_MAX], newid_dir[PATH_MAX];
static int ctl_sock = -1;
static long page_size;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	if (real.write)
		(void)!real.write(2, buf, (size_t)n);
}

static void resolve(void)
{
	const char *p = getenv(UIOEMU_ENV);

	real.open = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
	real.openat = (int (*)(int, const char *, int, ...))dlsym(RTLD_NEXT, "openat");
	real.read = (ssize_t(*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
	real.write = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
	real.close = (int (*)(int))dlsym(RTLD_NEXT, "close");
	real.mmap = (void *(*)(void *, size_t, int, int, int, off_t))dlsym(RTLD_NEXT, "mmap");
	real.munmap = (int (*)(void *, size_t))dlsym(RTLD_NEXT, "munmap");
	real.fstat = (int (*)(int, struct stat *))dlsym(RTLD_NEXT, "fstat");
	real.epoll_ctl =
	    (int (*)(int, int, int, struct epoll_event *))dlsym(RTLD_NEXT, "epoll_ctl");
	real.epoll_wait =
	    (int (*)(int, struct epoll_event *, int, int))dlsym(RTLD_NEXT, "epoll_wait");
	real.epoll_pwait = (int (*)(int, struct epoll_event *, int, int, const sigset_t *))dlsym(
	    RTLD_NEXT, "epoll_pwait");
	real.epoll_pwait2 = (int (*)(int, struct epoll_event *, int, const struct timespec *,
	                             const sigset_t *))dlsym(RTLD_NEXT, "epoll_pwait2");
	real.poll = (int (*)(struct pollfd *, nfds_t, int))dlsym(RTLD_NEXT, "poll");
	real.ppoll = (int (*)(struct pollfd *, nfds_t, const struct timespec *,
	                      const sigset_t *))dlsym(RTLD_NEXT, "ppoll");
	page_size = sysconf(_SC_PAGESIZE);
	if (p && *p && strlen(p) < sizeof(sock_path)) {
		strcpy(sock_path, p);
		enabled = true;
	} else if (p && *p) {
		say("uioemu: %s=%s is too long for a socket path; doing nothing", UIOEMU_ENV, p);
	}
}

static void init(void)
{
	pthread_once(&once, resolve);
}

/* ---- the kernel's sockets ---- */

static int kernel_connect(bool cloexec)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int s = socket(AF_UNIX, SOCK_SEQPACKET | (cloexec ? SOCK_CLOEXEC : 0), 0);

	if (s < 0)
		return -errno;
	strcpy(sa.sun_path, sock_path);
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;

		real.close(s);
		return err;
	}
	return s;
}

/* A request and its reply (with fds) on socket s. */
static ssize_t transact(int s, const struct uioemu_req *q, void *reply, size_t len, int *fds,
                        int *nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * UIOEMU_NFDS)];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = reply, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov,
	                    .msg_iovlen = 1,
	                    .msg_control = u.buf,
	                    .msg_controllen = sizeof(u.buf)};
	ssize_t n;
	int got = 0;

	do
		n = send(s, q, sizeof(*q), MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(*q))
		return n < 0 ? -errno : -EIO;
	do
		n = recvmsg(s, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		int tmp[UIOEMU_NFDS];
		if (k > UIOEMU_NFDS)
			k = UIOEMU_NFDS;
		memcpy(tmp, CMSG_DATA(c), (size_t)k * sizeof(int));
		for (int i = 0; i < k; i++) {
			if (fds && got < *nfds)
				fds[got++] = tmp[i];
			else
				real.close(tmp[i]);
		}
	}
	if (nfds)
		*nfds = got;
	return n;
}

/* Under the lock: the roots, once. */
static bool hello(void)
{
	struct uioemu_req q = {.type = UIOEMU_HELLO, .version = UIOEMU_PROTO_VERSION};
	struct uioemu_hello_reply r;
	ssize_t n;

	if (hello_done)
		return sys_real[0] != '\0';
	hello_done = true;
	ctl_sock = kernel_connect(true);
	if (ctl_sock < 0) {
		say("uioemu: cannot reach the emulated kernel at %s: %s", sock_path,
		    strerror(-ctl_sock));
		return false;
	}
	n = transact(ctl_sock, &q, &r, sizeof(r), NULL, NULL);
	if (n != (ssize_t)sizeof(r) || r.status != 0 || !memchr(r.sys, 0, sizeof(r.sys)) ||
	    !memchr(r.dev, 0, sizeof(r.dev)) || !realpath(r.sys, sys_real) ||
	    !realpath(r.dev, dev_real) ||
	    snprintf(newid_dir, sizeof(newid_dir), "%s/bus/vmbus/drivers/uio_hv_generic",
	             sys_real) >= (int)sizeof(newid_dir)) {
		say("uioemu: the emulated kernel at %s did not answer HELLO", sock_path);
		sys_real[0] = '\0';
		return false;
	}
	return true;
}

/* ---- the table ---- */

static struct efile *find(int fd)
{
	for (int i = 0; i < MAX_FILES; i++)
		if (files[i].used && files[i].fd == fd && !files[i].app_closed)
			return &files[i];
	return NULL;
}

static struct efile *slot(void)
{
	for (int i = 0; i < MAX_FILES; i++) {
		if (!files[i].used) {
			memset(&files[i], 0, sizeof(files[i]));
			for (int k = 0; k < UIOEMU_NFDS; k++)
				files[i].fds[k] = -1;
			files[i].used = true;
			__atomic_add_fetch(&nfiles, 1, __ATOMIC_SEQ_CST);
			return &files[i];
		}
	}
	return NULL;
}

static void release(struct efile *f)
{
	for (int k = 0; k < UIOEMU_NFDS; k++)
		if (f->fds[k] >= 0)
			real.close(f->fds[k]);
	if (f->state)
		real.munmap((void *)f->state, (size_t)page_size);
	f->used = false;
	__atomic_sub_fetch(&nfiles, 1, __ATOMIC_SEQ_CST);
}

/* K4: the kernel freed f's ring; make the memory behind every mapping of
 * it fault, once. Lock held. */
static void poison(struct efile *f)
{
	bool mapped = false;

	if (f->kind != KIND_UIO || f->poisoned || !f->state->ring_freed)
		return;
	f->poisoned = true;
	for (int k = 0; k < f->nmaps; k++)
		mapped |= f->maps[k].idx == UIOEMU_MAP_RING;
	/* Truncated and sealed: the pages are gone and nothing (not even the
	 * RX mask store of a later write(), see write_uio) brings them back. */
	if (ftruncate(f->fds[UIOEMU_FD_RING], 0) < 0 ||
	    fcntl(f->fds[UIOEMU_FD_RING], F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK) < 0) {
		say("uioemu: uio%d: cannot free the ring: %s", f->minor, strerror(errno));
		abort();
	}
	if (mapped)
		say("uioemu: uio%d: the kernel freed the ring pages md9 still maps (K4): "
		    "any access to them faults from now on",
		    f->minor);
}

/* epoll_wait returned these events from epfd: poison the files whose
 * error or hang-up is among them. */
static void deliver_epoll(int epfd, const struct epoll_event *ev, int n)
{
	int e = errno;

	if (n <= 0 || __atomic_load_n(&nfiles, __ATOMIC_SEQ_CST) == 0)
		return;
	pthread_mutex_lock(&lock);
	for (int k = 0; k < n; k++) {
		if (!(ev[k].events & (EPOLLERR | EPOLLHUP)))
			continue;
		for (int i = 0; i < MAX_FILES; i++) {
			struct efile *f = &files[i];

			if (!f->used || f->kind != KIND_UIO)
				continue;
			for (int r = 0; r < f->nreg; r++)
				if (f->reg[r].epfd == epfd && f->reg[r].data == ev[k].data.u64)
					poison(f);
		}
	}
	pthread_mutex_unlock(&lock);
	errno = e;
}

/* poll returned these: the same for the files it names. */
static void deliver_poll(const struct pollfd *fds, nfds_t n, int r)
{
	int e = errno;

	if (r <= 0 || __atomic_load_n(&nfiles, __ATOMIC_SEQ_CST) == 0)
		return;
	pthread_mutex_lock(&lock);
	for (nfds_t k = 0; k < n; k++) {
		struct efile *f;

		if (!(fds[k].revents & (POLLERR | POLLHUP)))
			continue;
		f = find(fds[k].fd);
		if (f)
			poison(f);
	}
	pthread_mutex_unlock(&lock);
	errno = e;
}

/* Is fd one of ours? Returns it locked, or NULL (unlocked). */
static struct efile *lookup(int fd)
{
	struct efile *f;

	if (__atomic_load_n(&nfiles, __ATOMIC_SEQ_CST) == 0)
		return NULL;
	pthread_mutex_lock(&lock);
	f = find(fd);
	if (!f)
		pthread_mutex_unlock(&lock);
	return f;
}

/* ---- which paths are the kernel's ---- */

/* KIND_UIO with *minor, KIND_NEW_ID, or -1. Called with the lock held. */
static int classify(int dirfd, const char *path, int *minor)
{
	char dir[PATH_MAX], rdir[PATH_MAX];
	const char *base = strrchr(path, '/');
	size_t dlen;
	char *end;
	long n;

	if (!enabled || (path[0] != '/' && dirfd != AT_FDCWD))
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
	if (!hello() || !realpath(dir, rdir))
		return -1;
	if (strcmp(base, "new_id") == 0)
		return strcmp(rdir, newid_dir) == 0 ? KIND_NEW_ID : -1;
	return strcmp(rdir, dev_real) == 0 ? KIND_UIO : -1;
}

static int fail(int err)
{
	errno = err;
	return -1;
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
	t = real.open(path, (flags & O_ACCMODE) | O_CLOEXEC | O_NOCTTY);
	if (t < 0)
		return -1;
	f = slot();
	if (!f) {
		real.close(t);
		return fail(EMFILE);
	}
	if (real.fstat(t, &f->st) < 0) {
		err = errno;
		real.close(t);
		release(f);
		return fail(err);
	}
	real.close(t);

	s = kernel_connect(flags & O_CLOEXEC);
	if (s < 0) {
		release(f);
		say("uioemu: open %s: the emulated kernel: %s", path, strerror(-s));
		return fail(ENXIO);
	}
	n = transact(s, &q, &r, sizeof(r), fds, &nfds);
	if (n != (ssize_t)sizeof(r) || (r.status == 0 && nfds != UIOEMU_NFDS) || r.status > 0) {
		for (int i = 0; i < nfds && n >= 0; i++)
			real.close(fds[i]);
		real.close(s);
		release(f);
		return fail(EIO);
	}
	if (r.status < 0) {
		real.close(s);
		release(f);
		return fail(-r.status);
	}
	memcpy(f->fds, fds, sizeof(fds));
	st = real.mmap(NULL, (size_t)page_size, PROT_READ, MAP_SHARED, fds[UIOEMU_FD_STATE], 0);
	if (st == MAP_FAILED) {
		err = errno;
		real.close(s); /* the kernel releases the file */
		release(f);
		return fail(err);
	}
	f->state = st;
	q.type = UIOEMU_PIN;
	if (send(s, &q, sizeof(q), MSG_NOSIGNAL) != (ssize_t)sizeof(q)) {
		err = errno;
		real.close(s);
		release(f);
		return fail(err);
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

	init();
	if (enabled && path) {
		pthread_mutex_lock(&lock);
		kind = classify(dirfd, path, &minor);
		if (kind == KIND_UIO) {
			fd = open_uio(path, flags, minor);
			pthread_mutex_unlock(&lock);
			return fd;
		}
		if (kind == KIND_NEW_ID) {
			struct efile *f = slot();

			fd = real.open(path, flags, mode);
			if (fd >= 0 && f) {
				f->kind = KIND_NEW_ID;
				f->fd = fd;
			} else if (f) {
				release(f);
			}
			pthread_mutex_unlock(&lock);
			return fd;
		}
		pthread_mutex_unlock(&lock);
	}
	return at ? real.openat(dirfd, path, flags, mode) : real.open(path, flags, mode);
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

EXPORT int open64(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	return do_open(AT_FDCWD, path, flags, mode, false);
}

EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	return do_open(dirfd, path, flags, mode, true);
}

EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	return do_open(dirfd, path, flags, mode, true);
}

/* _FORTIFY_SOURCE's checked open and read (glibc's fcntl2.h, unistd.h). */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);

EXPORT int __open_2(const char *path, int flags)
{
	return do_open(AT_FDCWD, path, flags, 0, false);
}

EXPORT int __open64_2(const char *path, int flags)
{
	return do_open(AT_FDCWD, path, flags, 0, false);
}

/* ---- read: uio_read ---- */

static ssize_t read_uio(struct efile *f, void *buf, size_t n)
{
	struct uioemu_irq m;
	bool got = false;
	int32_t count = 0;
	ssize_t r;
	int nonblock;

	if (n != sizeof(int32_t))
		return fail(EINVAL);
	nonblock = fcntl(f->fd, F_GETFL) & O_NONBLOCK;
	for (;;) {
		if (!f->state->info || !f->state->irq)
			return fail(EIO);
		r = recv(f->fd, &m, sizeof(m), got || nonblock ? MSG_DONTWAIT : 0);
		if (r == (ssize_t)sizeof(m) && m.type == UIOEMU_IRQ) {
			got = true;
			count = m.event;
			continue; /* every pending event is consumed at once */
		}
		if (r < 0 && errno == EINTR && !got)
			return -1;
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		/* The kernel closed the file: a rescind. */
		return fail(EIO);
	}
	if (!f->state->info || !f->state->irq)
		return fail(EIO);
	if (!got)
		return fail(EAGAIN);
	f->event = count;
	memcpy(buf, &count, sizeof(count));
	return (ssize_t)sizeof(count);
}

EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	struct efile *f;
	ssize_t r;

	init();
	f = lookup(fd);
	if (!f)
		return real.read(fd, buf, n);
	r = f->kind == KIND_UIO ? read_uio(f, buf, n) : fail(EINVAL);
	{
		int e = errno;
		if (r < 0 && e == EIO)
			poison(f);
		pthread_mutex_unlock(&lock);
		errno = e;
	}
	return r;
}

EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	if (n > buflen)
		abort();
	return read(fd, buf, n);
}

/* ---- write: uio_write -> hv_uio_irqcontrol; new_id_store ---- */

static ssize_t write_uio(struct efile *f, const void *buf, size_t n)
{
	int32_t v;
	uint64_t one = 1;

	if (n != sizeof(v))
		return fail(EINVAL);
	memcpy(&v, buf, sizeof(v));
	if (!f->state->info)
		return fail(EINVAL);
	if (!f->state->irq)
		return fail(EIO);
	if (f->info.flags & UIOEMU_F_MASK_ON_WRITE) {
		uint32_t mask = !v;

		/* A syscall rather than a store: once the kernel freed the ring
		 * (K4) the memory is sealed and this fails instead of faulting. */
		if (pwrite(f->fds[UIOEMU_FD_RING], &mask, sizeof(mask),
		           (off_t)f->info.rx_mask_off) != (ssize_t)sizeof(mask))
			return fail(EIO);
	}
	if ((f->info.flags & UIOEMU_F_SIGNAL_ON_WRITE) && v != 0 &&
	    real.write(f->fds[UIOEMU_FD_DOORBELL], &one, sizeof(one)) < 0 && errno != EAGAIN)
		return fail(EIO);
	return (ssize_t)sizeof(v);
}

static ssize_t write_new_id(const void *buf, size_t n)
{
	struct uioemu_req q = {.type = UIOEMU_NEW_ID, .len = (uint32_t)n};
	struct uioemu_status r;

	if (n > UINT32_MAX)
		return fail(EINVAL);
	memcpy(q.data, buf, n < sizeof(q.data) ? n : sizeof(q.data));
	if (ctl_sock < 0 || transact(ctl_sock, &q, &r, sizeof(r), NULL, NULL) != (ssize_t)sizeof(r))
		return fail(EIO);
	if (r.status < 0)
		return fail(-r.status);
	return r.status;
}

EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	struct efile *f;
	ssize_t r;

	init();
	f = lookup(fd);
	if (!f)
		return real.write(fd, buf, n);
	r = f->kind == KIND_UIO ? write_uio(f, buf, n) : write_new_id(buf, n);
	{
		int e = errno;
		if (r < 0 && (e == EIO || e == EINVAL) && f->kind == KIND_UIO)
			poison(f);
		pthread_mutex_unlock(&lock);
		errno = e;
	}
	return r;
}

/* ---- mmap: uio_mmap ---- */

static void *mmap_uio(struct efile *f, void *addr, size_t len, int prot, int flags, off_t off)
{
	int idx, fd;
	uint64_t size;
	void *p;

	if (!f->state->info || off < 0 || off % page_size || len == 0) {
		errno = EINVAL;
		return MAP_FAILED;
	}
	idx = (int)(off / page_size);
	if (idx >= UIOEMU_MAPS || f->nmaps == MAX_MAPS) {
		errno = EINVAL;
		return MAP_FAILED;
	}
	/* uio_mmap: no more pages than the map has. */
	size = f->info.map_size[idx];
	if ((len + (size_t)page_size - 1) / (size_t)page_size >
	    (size + (uint64_t)page_size - 1) / (uint64_t)page_size) {
		errno = EINVAL;
		return MAP_FAILED;
	}
	fd = idx == UIOEMU_MAP_RING ? f->fds[UIOEMU_FD_RING] : f->fds[UIOEMU_FD_PAGES];
	p = real.mmap(addr, len, prot, flags, fd,
	              idx == UIOEMU_MAP_RING ? 0 : (off_t)f->info.pages_off[idx]);
	if (p != MAP_FAILED)
		f->maps[f->nmaps++] = (struct emap){p, len, idx};
	return p;
}

EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	struct efile *f;
	void *p;

	init();
	f = (flags & MAP_ANONYMOUS) ? NULL : lookup(fd);
	if (!f)
		return real.mmap(addr, len, prot, flags, fd, off);
	if (f->kind == KIND_UIO) {
		p = mmap_uio(f, addr, len, prot, flags, off);
	} else {
		errno = ENODEV;
		p = MAP_FAILED;
	}
	{
		int e = errno;
		pthread_mutex_unlock(&lock);
		errno = e;
	}
	return p;
}

EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return mmap(addr, len, prot, flags, fd, off);
}

/* A mapping ends when munmap covers it whole; a file md9 closed is
 * released with its last mapping (hv_uio_release runs then). */
EXPORT int munmap(void *addr, size_t len)
{
	uintptr_t a = (uintptr_t)addr, e = a + len;
	int r;

	init();
	r = real.munmap(addr, len);
	if (r < 0 || __atomic_load_n(&nfiles, __ATOMIC_SEQ_CST) == 0)
		return r;
	pthread_mutex_lock(&lock);
	for (int i = 0; i < MAX_FILES; i++) {
		struct efile *f = &files[i];

		if (!f->used || f->kind != KIND_UIO)
			continue;
		for (int k = 0; k < f->nmaps; k++) {
			uintptr_t ma = (uintptr_t)f->maps[k].addr;

			if (ma >= a && ma + f->maps[k].len <= e)
				f->maps[k--] = f->maps[--f->nmaps];
		}
		if (f->app_closed && f->nmaps == 0) {
			real.close(f->fd);
			release(f);
		}
	}
	pthread_mutex_unlock(&lock);
	return r;
}

/* ---- close ---- */

EXPORT int close(int fd)
{
	struct efile *f;
	int r;

	init();
	f = lookup(fd);
	if (!f)
		return real.close(fd);
	if (f->kind == KIND_UIO && f->nmaps > 0) {
		/* The mappings hold the file: keep it open privately. */
		int keep = fcntl(fd, F_DUPFD_CLOEXEC, 64);

		if (keep >= 0) {
			f->fd = keep;
			f->app_closed = true;
		} else {
			release(f);
		}
	} else {
		release(f);
	}
	r = real.close(fd);
	pthread_mutex_unlock(&lock);
	return r;
}

/* ---- fstat: a character device ---- */

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

	init();
	f = lookup(fd);
	if (!f)
		return real.fstat(fd, st);
	if (f->kind == KIND_UIO) {
		char_dev(f, st);
		pthread_mutex_unlock(&lock);
		return 0;
	}
	pthread_mutex_unlock(&lock);
	return real.fstat(fd, st);
}

EXPORT int fstat64(int fd, struct stat64 *st)
{
	return fstat(fd, (struct stat *)st);
}

/* ---- the fd reports the rescind: the moment md9 knows (K4) ---- */

int epoll_pwait2(int epfd, struct epoll_event *ev, int n, const struct timespec *t,
                 const sigset_t *mask);

/* Record which epoll sets a uio fd is in, with the data md9 gave. */
EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	struct efile *f;
	int r;

	init();
	r = real.epoll_ctl(epfd, op, fd, ev);
	if (r < 0)
		return r;
	f = lookup(fd);
	if (!f)
		return r;
	for (int i = 0; i < f->nreg; i++)
		if (f->reg[i].epfd == epfd)
			f->reg[i--] = f->reg[--f->nreg];
	if (op != EPOLL_CTL_DEL && ev && f->nreg < (int)(sizeof(f->reg) / sizeof(f->reg[0]))) {
		f->reg[f->nreg].epfd = epfd;
		f->reg[f->nreg].data = ev->data.u64;
		f->nreg++;
	}
	pthread_mutex_unlock(&lock);
	return r;
}

EXPORT int epoll_wait(int epfd, struct epoll_event *ev, int n, int timeout)
{
	int r;

	init();
	r = real.epoll_wait(epfd, ev, n, timeout);
	deliver_epoll(epfd, ev, r);
	return r;
}

EXPORT int epoll_pwait(int epfd, struct epoll_event *ev, int n, int timeout, const sigset_t *mask)
{
	int r;

	init();
	r = real.epoll_pwait(epfd, ev, n, timeout, mask);
	deliver_epoll(epfd, ev, r);
	return r;
}

EXPORT int epoll_pwait2(int epfd, struct epoll_event *ev, int n, const struct timespec *t,
                        const sigset_t *mask)
{
	int r;

	init();
	if (!real.epoll_pwait2)
		return fail(ENOSYS);
	r = real.epoll_pwait2(epfd, ev, n, t, mask);
	deliver_epoll(epfd, ev, r);
	return r;
}

EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout)
{
	int r;

	init();
	r = real.poll(fds, n, timeout);
	deliver_poll(fds, n, r);
	return r;
}

EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *t, const sigset_t *mask)
{
	int r;

	init();
	r = real.ppoll(fds, n, t, mask);
	deliver_poll(fds, n, r);
	return r;
}
