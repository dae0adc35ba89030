/* libmd9uioemu.so's link to the emulated kernel (hostsim/uiokern_sock.c):
 * connect, one request and its reply with fds, HELLO, new_id. */
#include "uioemu.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

char uioemu_kernel_dev[PATH_MAX], uioemu_kernel_newid_dir[PATH_MAX];
static char sys_real[PATH_MAX];
static bool hello_done;
static int ctl_sock = -1;

int uioemu_kernel_connect(bool cloexec)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int s = socket(AF_UNIX, SOCK_SEQPACKET | (cloexec ? SOCK_CLOEXEC : 0), 0);

	if (s < 0)
		return -errno;
	strcpy(sa.sun_path, uioemu_sock_path);
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;

		uioemu_real.close(s);
		return err;
	}
	return s;
}

/* A request and its reply (with fds) on socket s. */
ssize_t uioemu_kernel_transact(int s, const struct uioemu_req *q, void *reply, size_t len, int *fds,
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
				uioemu_real.close(tmp[i]);
		}
	}
	if (nfds)
		*nfds = got;
	return n;
}

/* Under the lock: the roots, once. */
bool uioemu_kernel_hello(void)
{
	struct uioemu_req q = {.type = UIOEMU_HELLO, .version = UIOEMU_PROTO_VERSION};
	struct uioemu_hello_reply r;
	ssize_t n;

	if (hello_done)
		return sys_real[0] != '\0';
	hello_done = true;
	ctl_sock = uioemu_kernel_connect(true);
	if (ctl_sock < 0) {
		uioemu_say("uioemu: cannot reach the emulated kernel at %s: %s", uioemu_sock_path,
		           strerror(-ctl_sock));
		return false;
	}
	n = uioemu_kernel_transact(ctl_sock, &q, &r, sizeof(r), NULL, NULL);
	if (n != (ssize_t)sizeof(r) || r.status != 0 || !memchr(r.sys, 0, sizeof(r.sys)) ||
	    !memchr(r.dev, 0, sizeof(r.dev)) || !realpath(r.sys, sys_real) ||
	    !realpath(r.dev, uioemu_kernel_dev) ||
	    snprintf(uioemu_kernel_newid_dir, sizeof(uioemu_kernel_newid_dir),
	             "%s/bus/vmbus/drivers/uio_hv_generic",
	             sys_real) >= (int)sizeof(uioemu_kernel_newid_dir)) {
		uioemu_say("uioemu: the emulated kernel at %s did not answer HELLO",
		           uioemu_sock_path);
		sys_real[0] = '\0';
		return false;
	}
	return true;
}

ssize_t uioemu_kernel_new_id(const void *buf, size_t n)
{
	struct uioemu_req q = {.type = UIOEMU_NEW_ID, .len = (uint32_t)n};
	struct uioemu_status r;

	if (n > UINT32_MAX)
		return uioemu_fail(EINVAL);
	memcpy(q.data, buf, n < sizeof(q.data) ? n : sizeof(q.data));
	if (ctl_sock < 0 ||
	    uioemu_kernel_transact(ctl_sock, &q, &r, sizeof(r), NULL, NULL) != (ssize_t)sizeof(r))
		return uioemu_fail(EIO);
	if (r.status < 0)
		return uioemu_fail(-r.status);
	return r.status;
}
