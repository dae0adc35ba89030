/* libmd9uioemu.so's mmap() (uio_mmap), munmap() and close(): a mapping
 * holds the file, which is released with the last of close and munmap. */
#include "uioemu.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

static void *mmap_uio(struct efile *f, void *addr, size_t len, int prot, int flags, off_t off)
{
	int idx, fd;
	uint64_t size;
	void *p;

	if (!f->state->info || off < 0 || off % uioemu_page_size || len == 0) {
		errno = EINVAL;
		return MAP_FAILED;
	}
	idx = (int)(off / uioemu_page_size);
	if (idx >= UIOEMU_MAPS || f->nmaps == MAX_MAPS) {
		errno = EINVAL;
		return MAP_FAILED;
	}
	/* uio_mmap: no more pages than the map has. */
	size = f->info.map_size[idx];
	if ((len + (size_t)uioemu_page_size - 1) / (size_t)uioemu_page_size >
	    (size + (uint64_t)uioemu_page_size - 1) / (uint64_t)uioemu_page_size) {
		errno = EINVAL;
		return MAP_FAILED;
	}
	fd = idx == UIOEMU_MAP_RING ? f->fds[UIOEMU_FD_RING] : f->fds[UIOEMU_FD_PAGES];
	p = uioemu_real.mmap(addr, len, prot, flags, fd,
	                     idx == UIOEMU_MAP_RING ? 0 : (off_t)f->info.pages_off[idx]);
	if (p != MAP_FAILED)
		f->maps[f->nmaps++] = (struct emap){p, len, idx};
	return p;
}

EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	struct efile *f;
	void *p;

	uioemu_init();
	f = (flags & MAP_ANONYMOUS) ? NULL : uioemu_table_lookup(fd);
	if (!f)
		return uioemu_real.mmap(addr, len, prot, flags, fd, off);
	if (f->kind == KIND_UIO) {
		p = mmap_uio(f, addr, len, prot, flags, off);
	} else {
		errno = ENODEV;
		p = MAP_FAILED;
	}
	uioemu_table_unlock(f, false);
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

	uioemu_init();
	r = uioemu_real.munmap(addr, len);
	if (r < 0 || __atomic_load_n(&uioemu_table_nfiles, __ATOMIC_SEQ_CST) == 0)
		return r;
	pthread_mutex_lock(&uioemu_table_lock);
	for (int i = 0; i < MAX_FILES; i++) {
		struct efile *f = &uioemu_table_files[i];

		if (!f->used || f->kind != KIND_UIO)
			continue;
		for (int k = 0; k < f->nmaps; k++) {
			uintptr_t ma = (uintptr_t)f->maps[k].addr;

			if (ma >= a && ma + f->maps[k].len <= e)
				f->maps[k--] = f->maps[--f->nmaps];
		}
		if (f->app_closed && f->nmaps == 0) {
			uioemu_real.close(f->fd);
			uioemu_table_release(f);
		}
	}
	pthread_mutex_unlock(&uioemu_table_lock);
	return r;
}

EXPORT int close(int fd)
{
	struct efile *f;
	int r;

	uioemu_init();
	f = uioemu_table_lookup(fd);
	if (!f)
		return uioemu_real.close(fd);
	if (f->kind == KIND_UIO && f->nmaps > 0) {
		/* The mappings hold the file: keep it open privately. */
		int keep = fcntl(fd, F_DUPFD_CLOEXEC, 64);

		if (keep >= 0) {
			f->fd = keep;
			f->app_closed = true;
		} else {
			uioemu_table_release(f);
		}
	} else {
		uioemu_table_release(f);
	}
	r = uioemu_real.close(fd);
	pthread_mutex_unlock(&uioemu_table_lock);
	return r;
}
