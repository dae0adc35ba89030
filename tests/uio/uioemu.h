/* libmd9uioemu.so's parts (uioemu.c describes the library): the table of
 * emulated files and what each file offers the others. Nothing here is
 * exported: the library is built with -fvisibility=hidden and only the
 * interposed calls carry EXPORT. */
#ifndef MD9_UIOEMU_H
#define MD9_UIOEMU_H

#include "uioproto.h"

#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>

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

/* The calls this library stands in front of, as the next library has them. */
struct uioemu_real_calls {
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
};

/* uioemu.c: the real calls, $MD9_UIO_KERNEL, the page size. */
extern struct uioemu_real_calls uioemu_real;
extern bool uioemu_enabled;
extern char uioemu_sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
extern long uioemu_page_size;
/* Resolve the real calls once (every interposed call starts with it). */
void uioemu_init(void);
/* One line on standard error. */
void uioemu_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* errno = err; -1. */
int uioemu_fail(int err);

/* uioemu_kernel.c: the emulated kernel's socket (uioproto.h). */
extern char uioemu_kernel_dev[PATH_MAX], uioemu_kernel_newid_dir[PATH_MAX];
int uioemu_kernel_connect(bool cloexec);
ssize_t uioemu_kernel_transact(int s, const struct uioemu_req *q, void *reply, size_t len, int *fds,
                               int *nfds);
/* Under the lock: the kernel's roots, asked once; false if unreachable. */
bool uioemu_kernel_hello(void);
/* new_id_store: write() of new_id. */
ssize_t uioemu_kernel_new_id(const void *buf, size_t n);

/* uioemu_table.c: the emulated files. */
extern pthread_mutex_t uioemu_table_lock;
extern struct efile uioemu_table_files[MAX_FILES];
extern int uioemu_table_nfiles; /* entries in use; read without the lock as a fast path */
/* Lock held: md9's open fd's entry, or NULL. */
struct efile *uioemu_table_find(int fd);
/* Lock held: a fresh entry, or NULL when full. */
struct efile *uioemu_table_slot(void);
/* Lock held: the entry and what it holds go. */
void uioemu_table_release(struct efile *f);
/* Lock held: K4, make the freed ring fault (once). */
void uioemu_table_poison(struct efile *f);
/* Is fd one of ours? Returns it locked, or NULL (unlocked). */
struct efile *uioemu_table_lookup(int fd);
/* Unlock after a call on f (from uioemu_table_lookup), keeping its errno;
 * when the call found the rescind, poison f first (K4: md9 knows now). */
void uioemu_table_unlock(struct efile *f, bool rescinded);

#endif
