/* libmd9uioemu.so's epoll and poll: the moment md9's fd reports the
 * rescind is the moment md9 knows, and its freed ring is poisoned (K4). */
#include "uioemu.h"

#include <errno.h>

/* epoll_wait returned these events from epfd: poison the files whose
 * error or hang-up is among them. */
static void deliver_epoll(int epfd, const struct epoll_event *ev, int n)
{
	int e = errno;

	if (n <= 0 || __atomic_load_n(&uioemu_table_nfiles, __ATOMIC_SEQ_CST) == 0)
		return;
	pthread_mutex_lock(&uioemu_table_lock);
	for (int k = 0; k < n; k++) {
		if (!(ev[k].events & (EPOLLERR | EPOLLHUP)))
			continue;
		for (int i = 0; i < MAX_FILES; i++) {
			struct efile *f = &uioemu_table_files[i];

			if (!f->used || f->kind != KIND_UIO)
				continue;
			for (int r = 0; r < f->nreg; r++)
				if (f->reg[r].epfd == epfd && f->reg[r].data == ev[k].data.u64)
					uioemu_table_poison(f);
		}
	}
	pthread_mutex_unlock(&uioemu_table_lock);
	errno = e;
}

/* poll returned these: the same for the files it names. */
static void deliver_poll(const struct pollfd *fds, nfds_t n, int r)
{
	int e = errno;

	if (r <= 0 || __atomic_load_n(&uioemu_table_nfiles, __ATOMIC_SEQ_CST) == 0)
		return;
	pthread_mutex_lock(&uioemu_table_lock);
	for (nfds_t k = 0; k < n; k++) {
		struct efile *f;

		if (!(fds[k].revents & (POLLERR | POLLHUP)))
			continue;
		f = uioemu_table_find(fds[k].fd);
		if (f)
			uioemu_table_poison(f);
	}
	pthread_mutex_unlock(&uioemu_table_lock);
	errno = e;
}

int epoll_pwait2(int epfd, struct epoll_event *ev, int n, const struct timespec *t,
                 const sigset_t *mask);

/* Record which epoll sets a uio fd is in, with the data md9 gave. */
EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	struct efile *f;
	int r;

	uioemu_init();
	r = uioemu_real.epoll_ctl(epfd, op, fd, ev);
	if (r < 0)
		return r;
	f = uioemu_table_lookup(fd);
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
	pthread_mutex_unlock(&uioemu_table_lock);
	return r;
}

EXPORT int epoll_wait(int epfd, struct epoll_event *ev, int n, int timeout)
{
	int r;

	uioemu_init();
	r = uioemu_real.epoll_wait(epfd, ev, n, timeout);
	deliver_epoll(epfd, ev, r);
	return r;
}

EXPORT int epoll_pwait(int epfd, struct epoll_event *ev, int n, int timeout, const sigset_t *mask)
{
	int r;

	uioemu_init();
	r = uioemu_real.epoll_pwait(epfd, ev, n, timeout, mask);
	deliver_epoll(epfd, ev, r);
	return r;
}

EXPORT int epoll_pwait2(int epfd, struct epoll_event *ev, int n, const struct timespec *t,
                        const sigset_t *mask)
{
	int r;

	uioemu_init();
	if (!uioemu_real.epoll_pwait2)
		return uioemu_fail(ENOSYS);
	r = uioemu_real.epoll_pwait2(epfd, ev, n, t, mask);
	deliver_epoll(epfd, ev, r);
	return r;
}

EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout)
{
	int r;

	uioemu_init();
	r = uioemu_real.poll(fds, n, timeout);
	deliver_poll(fds, n, r);
	return r;
}

EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *t, const sigset_t *mask)
{
	int r;

	uioemu_init();
	r = uioemu_real.ppoll(fds, n, t, mask);
	deliver_poll(fds, n, r);
	return r;
}
