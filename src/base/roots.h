/* Where md9 finds the running system's kernel interfaces and files: sysfs,
 * device nodes, procfs, the kernel log, the configuration trees `md9 doctor`
 * reads and the whole tree `md9 setup` installs into. Normally the real
 * paths; `--root DIR` points every root into one tree (md9_roots_under):
 * hidden for run, doctor and bind-classes (tests' fake trees), documented
 * for setup (a system installed under DIR). This is the only seam between
 * md9 and the system's paths: nothing else may decide behaviour by
 * comparing a path with "/sys". */
#ifndef MD9_ROOTS_H
#define MD9_ROOTS_H

#include <stdbool.h>

/* A root is at most this long (with its NUL), so that a root and a path
 * below it always fit a PATH_MAX buffer. */
#define MD9_ROOT_MAX 1024

struct md9_roots {
	char sys[MD9_ROOT_MAX];  /* "/sys" */
	char dev[MD9_ROOT_MAX];  /* "/dev" */
	char proc[MD9_ROOT_MAX]; /* "/proc" */
	char kmsg[MD9_ROOT_MAX]; /* "/dev/kmsg": the kernel log, one record per read */
	char etc[MD9_ROOT_MAX];  /* "/etc" */
	char run[MD9_ROOT_MAX];  /* "/run" */
	char lib[MD9_ROOT_MAX];  /* "/lib" (modules/<release>/modules.dep) */
	char top[MD9_ROOT_MAX];  /* "/": the tree itself (md9 setup's files, /usr, /etc) */
};

/* The real system. */
void md9_roots_default(struct md9_roots *r);
/* Every root under dir: <dir>/sys, <dir>/dev, <dir>/proc, <dir>/dev/kmsg,
 * <dir>/etc, <dir>/run, <dir>/lib, and <dir> itself as top ("/" for "/").
 * dir must be an absolute path. 0, or
 * -EINVAL (relative or empty) / -ENAMETOOLONG with r unchanged. */
int md9_roots_under(struct md9_roots *r, const char *dir);
/* Are these the real system's roots (md9_roots_default)? */
bool md9_roots_are_default(const struct md9_roots *r);

#endif
