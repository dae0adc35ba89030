/* A message with file descriptors over a UNIX socket (SCM_RIGHTS). */
#ifndef MD9_FDPASS_H
#define MD9_FDPASS_H

#include <stddef.h>
#include <sys/types.h>

#define FDPASS_MAX 4

/* Returns bytes sent or -errno. */
ssize_t fdpass_send(int sock, const void *buf, size_t len, const int *fds, int nfds);
/* Returns bytes received (0 = peer closed) or -errno. Received fds are
 * O_CLOEXEC; *nfds says how many (unexpected extras are closed). */
ssize_t fdpass_recv(int sock, void *buf, size_t len, int *fds, int *nfds);

#endif
