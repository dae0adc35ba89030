/* libmd9uioemu.so's read() and write(): uio_read (the event count) and
 * uio_write -> hv_uio_irqcontrol; write() of new_id. */
#include "uioemu.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static ssize_t read_uio(struct efile *f, void *buf, size_t n)
{
	struct uioemu_irq m;
	bool got = false;
	int32_t count = 0;
	ssize_t r;
	int nonblock;

	if (n != sizeof(int32_t))
		return uioemu_fail(EINVAL);
	nonblock = fcntl(f->fd, F_GETFL) & O_NONBLOCK;
	for (;;) {
		if (!f->state->info || !f->state->irq)
			return uioemu_fail(EIO);
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
		return uioemu_fail(EIO);
	}
	if (!f->state->info || !f->state->irq)
		return uioemu_fail(EIO);
	if (!got)
		return uioemu_fail(EAGAIN);
	f->event = count;
	memcpy(buf, &count, sizeof(count));
	return (ssize_t)sizeof(count);
}

EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	struct efile *f;
	ssize_t r;

	uioemu_init();
	f = uioemu_table_lookup(fd);
	if (!f)
		return uioemu_real.read(fd, buf, n);
	r = f->kind == KIND_UIO ? read_uio(f, buf, n) : uioemu_fail(EINVAL);
	uioemu_table_unlock(f, r < 0 && errno == EIO);
	return r;
}

/* _FORTIFY_SOURCE's checked read (glibc's unistd.h). */
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);

EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	if (n > buflen)
		abort();
	return read(fd, buf, n);
}

static ssize_t write_uio(struct efile *f, const void *buf, size_t n)
{
	int32_t v;
	uint64_t one = 1;

	if (n != sizeof(v))
		return uioemu_fail(EINVAL);
	memcpy(&v, buf, sizeof(v));
	if (!f->state->info)
		return uioemu_fail(EINVAL);
	if (!f->state->irq)
		return uioemu_fail(EIO);
	if (f->info.flags & UIOEMU_F_MASK_ON_WRITE) {
		uint32_t mask = !v;

		/* A syscall rather than a store: once the kernel freed the ring
		 * (K4) the memory is sealed and this fails instead of faulting. */
		if (pwrite(f->fds[UIOEMU_FD_RING], &mask, sizeof(mask),
		           (off_t)f->info.rx_mask_off) != (ssize_t)sizeof(mask))
			return uioemu_fail(EIO);
	}
	if ((f->info.flags & UIOEMU_F_SIGNAL_ON_WRITE) && v != 0 &&
	    uioemu_real.write(f->fds[UIOEMU_FD_DOORBELL], &one, sizeof(one)) < 0 && errno != EAGAIN)
		return uioemu_fail(EIO);
	return (ssize_t)sizeof(v);
}

EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	struct efile *f;
	ssize_t r;

	uioemu_init();
	f = uioemu_table_lookup(fd);
	if (!f)
		return uioemu_real.write(fd, buf, n);
	r = f->kind == KIND_UIO ? write_uio(f, buf, n) : uioemu_kernel_new_id(buf, n);
	uioemu_table_unlock(f, r < 0 && (errno == EIO || errno == EINVAL) && f->kind == KIND_UIO);
	return r;
}
