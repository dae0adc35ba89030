#include "backend.h"

#include "number.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

static int parse_u32(const char *s, uint32_t *out)
{
	uint64_t v;

	if (md9_number_parse(s, 0, UINT32_MAX, &v) < 0)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

int md9_backend_parse(const char *spec, struct md9_backend *out, const char **why)
{
	memset(out, 0, sizeof(*out));
	if (strlen(spec) >= sizeof(out->spec)) {
		*why = "backend spec too long";
		return -1;
	}
	strcpy(out->spec, spec);
	if (strncmp(spec, "tcp:", 4) == 0) {
		const char *hp = spec + 4, *colon;
		size_t hlen;
		uint32_t port;

		if (*hp == '[') {
			const char *close = strchr(hp, ']');
			if (!close || close[1] != ':') {
				*why = "IPv6 backend must be tcp:[ADDR]:PORT";
				return -1;
			}
			hlen = (size_t)(close - hp - 1);
			hp++;
			colon = close + 1;
		} else {
			colon = strrchr(hp, ':');
			if (!colon) {
				*why = "tcp backend must be tcp:HOST:PORT";
				return -1;
			}
			hlen = (size_t)(colon - hp);
		}
		if (hlen == 0 || hlen >= sizeof(out->host) || parse_u32(colon + 1, &port) < 0 ||
		    port == 0 || port > 65535) {
			*why = "tcp backend needs a host and a port 1-65535";
			return -1;
		}
		memcpy(out->host, hp, hlen);
		snprintf(out->port, sizeof(out->port), "%u", port);
		out->family = 0;
		return 0;
	}
	if (strncmp(spec, "unix:", 5) == 0) {
		if (spec[5] != '/' || strlen(spec + 5) >= sizeof(out->path)) {
			*why = "unix backend needs an absolute path shorter than 108 bytes";
			return -1;
		}
		strcpy(out->path, spec + 5);
		out->family = AF_UNIX;
		return 0;
	}
	if (strncmp(spec, "vsock:", 6) == 0) {
		char tmp[64];
		char *colon;

		if (strlen(spec + 6) >= sizeof(tmp)) {
			*why = "vsock backend must be vsock:CID:PORT";
			return -1;
		}
		strcpy(tmp, spec + 6);
		colon = strchr(tmp, ':');
		if (!colon) {
			*why = "vsock backend must be vsock:CID:PORT";
			return -1;
		}
		*colon = '\0';
		if (parse_u32(tmp, &out->cid) < 0 || parse_u32(colon + 1, &out->vport) < 0) {
			*why = "vsock backend must be vsock:CID:PORT with numbers";
			return -1;
		}
		out->family = AF_VSOCK;
		return 0;
	}
	*why = "backend must start with tcp:, unix: or vsock:";
	return -1;
}

static int start_connect(int family, const struct sockaddr *sa, socklen_t len)
{
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (family == AF_INET || family == AF_INET6) {
		int one = 1;
		/* RDP is interactive: small PDUs must not wait for Nagle. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	if (connect(fd, sa, len) < 0 && errno != EINPROGRESS) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

int md9_backend_resolve(struct md9_backend *b, char *why, size_t cap)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *res;
	int rc;

	if (b->family != 0)
		return 0;
	rc = getaddrinfo(b->host, b->port, &hints, &res);
	if (rc != 0) {
		snprintf(why, cap, "backend %s: cannot resolve %s: %s", b->spec, b->host,
		         rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return -1;
	}
	if (res->ai_addrlen > sizeof(b->addr)) {
		freeaddrinfo(res);
		snprintf(why, cap, "backend %s: address too long", b->spec);
		return -1;
	}
	memcpy(&b->addr, res->ai_addr, res->ai_addrlen);
	b->addrlen = res->ai_addrlen;
	b->family = res->ai_family;
	freeaddrinfo(res);
	return 0;
}

int md9_backend_connect(const struct md9_backend *b)
{
	if (b->family == AF_UNIX) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		strcpy(sa.sun_path, b->path);
		return start_connect(AF_UNIX, (struct sockaddr *)&sa, sizeof(sa));
	}
	if (b->family == AF_VSOCK) {
		struct sockaddr_vm sa = {
		    .svm_family = AF_VSOCK, .svm_cid = b->cid, .svm_port = b->vport};
		return start_connect(AF_VSOCK, (struct sockaddr *)&sa, sizeof(sa));
	}
	if (b->family == 0) {
		struct md9_backend r = *b;
		char why[300];

		if (md9_backend_resolve(&r, why, sizeof(why)) < 0)
			return -EHOSTUNREACH;
		return start_connect(r.family, (const struct sockaddr *)&r.addr, r.addrlen);
	}
	return start_connect(b->family, (const struct sockaddr *)&b->addr, b->addrlen);
}

int md9_backend_connected(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	return -err;
}
