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
#include "uioemu.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct uioemu_real_calls uioemu_real;
bool uioemu_enabled;
char uioemu_sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
long uioemu_page_size;
static pthread_once_t once = PTHREAD_ONCE_INIT;

void uioemu_say(const char *fmt, ...)
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
	if (uioemu_real.write)
		(void)!uioemu_real.write(2, buf, (size_t)n);
}

static void resolve(void)
{
	const char *p = getenv(UIOEMU_ENV);

	uioemu_real.open = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
	uioemu_real.openat = (int (*)(int, const char *, int, ...))dlsym(RTLD_NEXT, "openat");
	uioemu_real.read = (ssize_t(*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
	uioemu_real.write = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
	uioemu_real.close = (int (*)(int))dlsym(RTLD_NEXT, "close");
	uioemu_real.mmap =
	    (void *(*)(void *, size_t, int, int, int, off_t))dlsym(RTLD_NEXT, "mmap");
	uioemu_real.munmap = (int (*)(void *, size_t))dlsym(RTLD_NEXT, "munmap");
	uioemu_real.fstat = (int (*)(int, struct stat *))dlsym(RTLD_NEXT, "fstat");
	uioemu_real.epoll_ctl =
	    (int (*)(int, int, int, struct epoll_event *))dlsym(RTLD_NEXT, "epoll_ctl");
	uioemu_real.epoll_wait =
	    (int (*)(int, struct epoll_event *, int, int))dlsym(RTLD_NEXT, "epoll_wait");
	uioemu_real.epoll_pwait = (int (*)(int, struct epoll_event *, int, int,
	                                   const sigset_t *))dlsym(RTLD_NEXT, "epoll_pwait");
	uioemu_real.epoll_pwait2 = (int (*)(int, struct epoll_event *, int, const struct timespec *,
	                                    const sigset_t *))dlsym(RTLD_NEXT, "epoll_pwait2");
	uioemu_real.poll = (int (*)(struct pollfd *, nfds_t, int))dlsym(RTLD_NEXT, "poll");
	uioemu_real.ppoll = (int (*)(struct pollfd *, nfds_t, const struct timespec *,
	                             const sigset_t *))dlsym(RTLD_NEXT, "ppoll");
	uioemu_page_size = sysconf(_SC_PAGESIZE);
	if (p && *p && strlen(p) < sizeof(uioemu_sock_path)) {
		strcpy(uioemu_sock_path, p);
		uioemu_enabled = true;
	} else if (p && *p) {
		uioemu_say("uioemu: %s=%s is too long for a socket path; doing nothing", UIOEMU_ENV,
		           p);
	}
}

void uioemu_init(void)
{
	pthread_once(&once, resolve);
}

int uioemu_fail(int err)
{
	errno = err;
	return -1;
}
