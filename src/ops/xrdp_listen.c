#include "xrdp_listen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

int md9_xrdp_port_for(const struct md9_xrdp_ini *x, bool add_unix, bool no_network,
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
		if (no_network && md9_xrdp_listener_is_network(t, x)) {
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
