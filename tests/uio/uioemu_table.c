/* libmd9uioemu.so's table of emulated files (uio nodes and new_id): find,
 * take, release, and K4's poisoning of a freed ring. */
#include "uioemu.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

pthread_mutex_t uioemu_table_lock = PTHREAD_MUTEX_INITIALIZER;
struct efile uioemu_table_files[MAX_FILES];
int uioemu_table_nfiles;

struct efile *uioemu_table_find(int fd)
{
	for (int i = 0; i < MAX_FILES; i++)
		if (uioemu_table_files[i].used && uioemu_table_files[i].fd == fd &&
		    !uioemu_table_files[i].app_closed)
			return &uioemu_table_files[i];
	return NULL;
}

struct efile *uioemu_table_slot(void)
{
	for (int i = 0; i < MAX_FILES; i++) {
		if (!uioemu_table_files[i].used) {
			memset(&uioemu_table_files[i], 0, sizeof(uioemu_table_files[i]));
			for (int k = 0; k < UIOEMU_NFDS; k++)
				uioemu_table_files[i].fds[k] = -1;
			uioemu_table_files[i].used = true;
			__atomic_add_fetch(&uioemu_table_nfiles, 1, __ATOMIC_SEQ_CST);
			return &uioemu_table_files[i];
		}
	}
	return NULL;
}

void uioemu_table_release(struct efile *f)
{
	for (int k = 0; k < UIOEMU_NFDS; k++)
		if (f->fds[k] >= 0)
			uioemu_real.close(f->fds[k]);
	if (f->state)
		uioemu_real.munmap((void *)f->state, (size_t)uioemu_page_size);
	f->used = false;
	__atomic_sub_fetch(&uioemu_table_nfiles, 1, __ATOMIC_SEQ_CST);
}

/* K4: the kernel freed f's ring; make the memory behind every mapping of
 * it fault, once. Lock held. */
void uioemu_table_poison(struct efile *f)
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
		uioemu_say("uioemu: uio%d: cannot free the ring: %s", f->minor, strerror(errno));
		abort();
	}
	if (mapped)
		uioemu_say("uioemu: uio%d: the kernel freed the ring pages md9 still maps (K4): "
		           "any access to them faults from now on",
		           f->minor);
}

/* Is fd one of ours? Returns it locked, or NULL (unlocked). */
struct efile *uioemu_table_lookup(int fd)
{
	struct efile *f;

	if (__atomic_load_n(&uioemu_table_nfiles, __ATOMIC_SEQ_CST) == 0)
		return NULL;
	pthread_mutex_lock(&uioemu_table_lock);
	f = uioemu_table_find(fd);
	if (!f)
		pthread_mutex_unlock(&uioemu_table_lock);
	return f;
}

void uioemu_table_unlock(struct efile *f, bool rescinded)
{
	int e = errno;

	if (rescinded)
		uioemu_table_poison(f);
	pthread_mutex_unlock(&uioemu_table_lock);
	errno = e;
}
