#include "xrdp_listen.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Calls fn for each listener of the port value (space or comma separated). */
static bool each_listener(const struct md9_xrdp_ini *x, bool (*fn)(const char *l, void *arg),
                          void *arg)
{
	char buf[sizeof(x->port)], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", x->port);
	for (char *t = strtok_r(buf, " \t,", &save); t; t = strtok_r(NULL, " \t,", &save))
		if (fn(t, arg))
			return true;
	return false;
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

struct tcp_match {
	const struct md9_xrdp_ini *x;
	unsigned port;
};

static bool is_tcp_on(const char *l, void *arg)
{
	const struct tcp_match *m = arg;
	const char *colon;

	if (all_digits(l)) /* "3389": every interface, TCP unless use_vsock */
		return !m->x->use_vsock && strtoul(l, NULL, 10) == m->port;
	if (strncasecmp(l, "tcp://", 6) != 0 && strncasecmp(l, "tcp6://", 7) != 0)
		return false;
	colon = strrchr(l, ':');
	return colon && all_digits(colon + 1) && strtoul(colon + 1, NULL, 10) == m->port;
}

bool md9_xrdp_listen_tcp(const struct md9_xrdp_ini *x, unsigned port)
{
	struct tcp_match m = {x, port};

	return each_listener(x, is_tcp_on, &m);
}

static bool is_vsock(const char *l, void *arg)
{
	(void)arg;
	return strncasecmp(l, "vsock://", 8) == 0;
}

static bool is_not_vsock(const char *l, void *arg)
{
	const struct md9_xrdp_ini *x = arg;

	if (all_digits(l))
		return !x->use_vsock;
	return strncasecmp(l, "vsock://", 8) != 0;
}

bool md9_xrdp_listen_vsock(const struct md9_xrdp_ini *x, bool *only)
{
	bool any_digits_vsock = false, any;
	char buf[sizeof(x->port)], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", x->port);
	for (char *t = strtok_r(buf, " \t,", &save); t; t = strtok_r(NULL, " \t,", &save))
		if (all_digits(t) && x->use_vsock)
			any_digits_vsock = true;
	any = any_digits_vsock || each_listener(x, is_vsock, NULL);
	if (only)
		*only = any && !each_listener(x, is_not_vsock, (void *)x);
	return any;
}

/* A TCP listener not on loopback ("3389": every interface; tcp://.:P is
 * 127.0.0.1 and tcp6://.:P ::1 in xrdp's spelling, see xrdp.ini's port=
 * comment), or NULL. */
bool md9_xrdp_listen_is_network(const char *l, const struct md9_xrdp_ini *x)
{
	const char *h, *colon;
	char host[128];

	if (all_digits(l))
		return !x->use_vsock;
	if (strncasecmp(l, "tcp://", 6) == 0)
		h = l + 6;
	else if (strncasecmp(l, "tcp6://", 7) == 0)
		h = l + 7;
	else
		return false; /* unix://, vsock:// */
	colon = strrchr(h, ':');
	if (!colon)
		return true;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - h), h);
	if (host[0] == '{') {
		memmove(host, host + 1, strlen(host));
		host[strcspn(host, "}")] = '\0';
	}
	return !(strcmp(host, ".") == 0 || strncmp(host, "127.", 4) == 0 ||
	         strcmp(host, "::1") == 0 || strcasecmp(host, "localhost") == 0);
}

const char *md9_xrdp_listen_network(const struct md9_xrdp_ini *x, char *buf, size_t cap)
{
	char list[sizeof(x->port)], *save = NULL;

	snprintf(list, sizeof(list), "%s", x->port);
	for (char *t = strtok_r(list, " \t,", &save); t; t = strtok_r(NULL, " \t,", &save))
		if (md9_xrdp_listen_is_network(t, x)) {
			snprintf(buf, cap, "%s", t);
			return buf;
		}
	return NULL;
}

static int append(char *out, size_t cap, const char *tok)
{
	size_t l = strlen(out);
	int n = snprintf(out + l, cap - l, "%s%s", l ? " " : "", tok);

	return n < 0 || (size_t)n >= cap - l ? -1 : 0;
}

/* The TCP port of a listener token ("3389", "tcp://h:3389"), "" if none. */
static void port_of(const char *tok, char *port, size_t cap)
{
	const char *c = strrchr(tok, ':');

	snprintf(port, cap, "%s", strchr(tok, '/') ? (c ? c + 1 : "") : tok);
}

int md9_xrdp_listen_port_for(const struct md9_xrdp_ini *x, bool add_unix, bool no_network,
                             const char *sock, char *out, size_t cap)
{
	char list[sizeof(x->port)], unix_tok[160], first_port[16] = "", *save = NULL;
	bool have_unix = false, any = false;

	snprintf(unix_tok, sizeof(unix_tok), "unix://.%s", sock);
	snprintf(list, sizeof(list), "%s", x->port);
	out[0] = '\0';
	for (char *t = strtok_r(list, " \t,", &save); t; t = strtok_r(NULL, " \t,", &save)) {
		if (strcasecmp(t, unix_tok) == 0)
			have_unix = true;
		if (no_network && md9_xrdp_listen_is_network(t, x)) {
			if (!first_port[0])
				port_of(t, first_port, sizeof(first_port));
			continue;
		}
		if (append(out, cap, t) < 0)
			return -1;
		any = true;
	}
	if (add_unix && !have_unix) {
		if (append(out, cap, unix_tok) < 0)
			return -1;
		any = true;
	}
	if (!any || (!add_unix && first_port[0] && no_network)) {
		char lo[64];
		snprintf(lo, sizeof(lo), "tcp://.:%s", first_port[0] ? first_port : "3389");
		if (!strstr(out, lo) && append(out, cap, lo) < 0)
			return -1;
	}
	return strcmp(out, x->port) != 0;
}
