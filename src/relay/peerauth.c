#include "peerauth.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Debian's xrdp package runs xrdp as this user (xrdp.service User=xrdp). */
#define DEFAULT_SERVER_USER "xrdp"

int md9_peer_policy_resolve(const char *name, struct md9_peer_policy *p, const char **why)
{
	const struct passwd *pw;

	memset(p, 0, sizeof(*p));
	if (!name || !*name) {
		pw = getpwnam(DEFAULT_SERVER_USER);
		if (pw) {
			p->has_user = true;
			p->uid = pw->pw_uid;
			snprintf(p->name, sizeof(p->name), "%s", DEFAULT_SERVER_USER);
		}
		return 0;
	}
	if (strlen(name) >= sizeof(p->name)) {
		*why = "server_user: name too long";
		return -1;
	}
	pw = getpwnam(name);
	if (!pw) {
		*why = "server_user: no such user";
		return -1;
	}
	p->has_user = true;
	p->uid = pw->pw_uid;
	snprintf(p->name, sizeof(p->name), "%s", name);
	return 0;
}

static uid_t own_uid(const struct md9_peer_policy *p)
{
	return p->self_set ? p->self_uid : geteuid();
}

bool md9_peer_allowed(const struct md9_peer_policy *p, uid_t uid)
{
	return uid == 0 || uid == own_uid(p) || (p->has_user && uid == p->uid);
}

const char *md9_peer_user_name(uid_t uid, char *buf, size_t cap)
{
	const struct passwd *pw = getpwuid(uid);

	if (pw)
		snprintf(buf, cap, "%s (uid %u)", pw->pw_name, (unsigned)uid);
	else
		snprintf(buf, cap, "uid %u", (unsigned)uid);
	return buf;
}

/* One exact inet_diag lookup: the socket that receives what is sent from
 * (laddr, lport) to (raddr, rport). Its local end is our peer. */
static int diag_lookup(int family, const void *raddr, uint16_t rport_be, const void *laddr,
                       uint16_t lport_be, struct inet_diag_msg *out)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 r;
	} req;
	union {
		struct nlmsghdr nlh;
		char buf[8192];
	} ans;
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	size_t alen = family == AF_INET ? 4 : 16;
	ssize_t n;
	int fd, err = 0;

	memset(&req, 0, sizeof(req));
	req.nlh.nlmsg_len = sizeof(req);
	req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nlh.nlmsg_flags = NLM_F_REQUEST;
	req.nlh.nlmsg_seq = 1;
	req.r.sdiag_family = (uint8_t)family;
	req.r.sdiag_protocol = IPPROTO_TCP;
	req.r.idiag_states = ~0u;
	/* The peer's socket: its source is the server's address, its
	 * destination ours. */
	req.r.id.idiag_sport = rport_be;
	req.r.id.idiag_dport = lport_be;
	memcpy(req.r.id.idiag_src, raddr, alen);
	memcpy(req.r.id.idiag_dst, laddr, alen);
	req.r.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;

	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -errno;
	if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
		err = -errno;
		goto out;
	}
	/* The kernel answers within sendto (netlink_unicast_kernel): the
	 * reply is queued already, so this never waits. */
	n = recv(fd, &ans, sizeof(ans), MSG_DONTWAIT);
	if (n < 0) {
		err = -errno;
		goto out;
	}
	if ((size_t)n < sizeof(struct nlmsghdr) || !NLMSG_OK(&ans.nlh, (unsigned)n)) {
		err = -EPROTO;
		goto out;
	}
	if (ans.nlh.nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = NLMSG_DATA(&ans.nlh);
		err =
		    ans.nlh.nlmsg_len >= NLMSG_LENGTH(sizeof(*e)) && e->error ? e->error : -EPROTO;
		goto out;
	}
	if (ans.nlh.nlmsg_type != SOCK_DIAG_BY_FAMILY ||
	    ans.nlh.nlmsg_len < NLMSG_LENGTH(sizeof(*out))) {
		err = -EPROTO;
		goto out;
	}
	memcpy(out, NLMSG_DATA(&ans.nlh), sizeof(*out));
out:
	close(fd);
	return err;
}

int md9_peerauth_tcp_uid(int fd, uid_t *uid)
{
	struct sockaddr_storage l, r;
	socklen_t ll = sizeof(l), rl = sizeof(r);
	struct inet_diag_msg m;
	int err;

	if (getsockname(fd, (struct sockaddr *)&l, &ll) < 0 ||
	    getpeername(fd, (struct sockaddr *)&r, &rl) < 0)
		return -errno;
	if (l.ss_family == AF_INET) {
		const struct sockaddr_in *a = (void *)&l, *b = (void *)&r;
		err =
		    diag_lookup(AF_INET, &b->sin_addr, b->sin_port, &a->sin_addr, a->sin_port, &m);
	} else if (l.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (void *)&l, *b = (void *)&r;
		if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr) && IN6_IS_ADDR_V4MAPPED(&b->sin6_addr))
			/* IPv4 traffic: the server's socket is in the IPv4 table. */
			err = diag_lookup(AF_INET, &b->sin6_addr.s6_addr[12], b->sin6_port,
			                  &a->sin6_addr.s6_addr[12], a->sin6_port, &m);
		else
			err = diag_lookup(AF_INET6, &b->sin6_addr, b->sin6_port, &a->sin6_addr,
			                  a->sin6_port, &m);
	} else {
		return -EAFNOSUPPORT;
	}
	if (err < 0)
		return err;
	/* The lookup falls back to the listening socket when no connection
	 * matches (inet_lookup): that is not our peer. */
	if (m.idiag_state == TCP_LISTEN)
		return -ENOENT;
	if (m.idiag_inode == 0) {
		/* No socket inode: a request socket (SYN_RECV), a connection
		 * waiting in the accept queue, or a TIME_WAIT/FIN_WAIT2 remnant.
		 * Their idiag_uid is 0 whoever listens (inet_req_diag_fill,
		 * inet_twsk_diag_fill, sock_i_uid without a socket). */
		if (m.idiag_state == TCP_SYN_RECV || m.idiag_state == TCP_ESTABLISHED ||
		    m.idiag_state == TCP_CLOSE_WAIT)
			return 0;
		return -ECONNRESET;
	}
	*uid = (uid_t)m.idiag_uid;
	return 1;
}

int md9_peerauth_check(int fd, const struct md9_backend *b, const struct md9_peer_policy *p,
                       uid_t *uid, char *why, size_t cap)
{
	char who[96], want[128];
	int rc;

	*uid = (uid_t)-1;
	if (p->has_user)
		snprintf(want, sizeof(want), "%s (uid %u), root or md9's own uid %u", p->name,
		         (unsigned)p->uid, (unsigned)own_uid(p));
	else
		snprintf(want, sizeof(want),
		         "root or md9's own uid %u (server_user is not set and "
		         "there is no user " DEFAULT_SERVER_USER ")",
		         (unsigned)own_uid(p));
	switch (b->family) {
	case AF_UNIX: {
		struct ucred cr;
		socklen_t len = sizeof(cr);

		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0) {
			snprintf(why, cap, "cannot read the server's credentials (SO_PEERCRED): %s",
			         strerror(errno));
			return MD9_PEERAUTH_REFUSED;
		}
		*uid = cr.uid;
		break;
	}
	case AF_VSOCK:
		/* Only ports below 1024 pass the configuration (see peerauth.h). */
		return MD9_PEERAUTH_OK;
	default:
		rc = md9_peerauth_tcp_uid(fd, uid);
		if (rc == 0) {
			snprintf(why, cap, "the server has not accepted the connection yet");
			return MD9_PEERAUTH_PENDING;
		}
		if (rc == -ECONNRESET) {
			snprintf(why, cap, "the server closed the connection before md9 could check "
			                   "who it is");
			return MD9_PEERAUTH_GONE;
		}
		if (rc == -ENOENT) {
			snprintf(why, cap,
			         "no socket on this machine answers for %s (md9 serves only a "
			         "local server, whose owner it can check)",
			         b->spec);
			return MD9_PEERAUTH_REFUSED;
		}
		if (rc < 0) {
			snprintf(why, cap,
			         "cannot find who owns the server's socket (sock_diag): %s",
			         strerror(-rc));
			return MD9_PEERAUTH_REFUSED;
		}
		break;
	}
	if (md9_peer_allowed(p, *uid))
		return MD9_PEERAUTH_OK;
	snprintf(why, cap, "refused the server at %s: it runs as %s, not as %s", b->spec,
	         md9_peer_user_name(*uid, who, sizeof(who)), want);
	return MD9_PEERAUTH_REFUSED;
}
