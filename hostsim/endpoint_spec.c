/* The host endpoint's SPEC (endpoint.h): sessions and options. */
#include "endpoint_state.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int parse_mode(const char *s, enum ep_mode *m)
{
	for (unsigned i = 0; i < EP_NMODES; i++) {
		if (strcmp(s, endpoint_mode_names[i]) == 0) {
			*m = (enum ep_mode)i;
			return 0;
		}
	}
	return -1;
}

int endpoint_spec_parse(struct endpoint *ep, char *spec)
{
	char *save = NULL;
	bool hs = false;

	for (char *item = strtok_r(spec, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '='), *colon = strchr(item, ':'), *end;
		enum ep_mode m;
		long k = 1;

		if (eq) {
			*eq++ = '\0';
			errno = 0;
			if (strcmp(item, "watch") == 0) {
				if (strlen(eq) >= sizeof(ep->watch))
					goto bad;
				strcpy(ep->watch, eq);
				continue;
			}
			double v = strtod(eq, &end);
			if (*end || errno || v < 0)
				goto bad;
			if (strcmp(item, "count") == 0 && v >= 1 && v <= 100000000)
				ep->count = (int)v;
			else if (strcmp(item, "warm") == 0 && v <= 100000000)
				ep->warm = (int)v;
			else if (strcmp(item, "size") == 0 && v >= 1 && v <= EP_MAX_MSG)
				ep->size = (size_t)v;
			else if (strcmp(item, "gap") == 0 && v <= 600000)
				ep->gap_ms = (int)v;
			else if (strcmp(item, "warmup") == 0 && v <= 3600)
				ep->warmup = v;
			else if (strcmp(item, "window") == 0 && v <= 3600)
				ep->window = v;
			else if (strcmp(item, "slow") == 0 && v <= 1e9)
				ep->slow_ns = (uint64_t)(v * 1000);
			else
				goto bad;
			continue;
		}
		if (strcmp(item, "verify") == 0) {
			ep->verify = true;
			continue;
		}
		if (colon) {
			*colon++ = '\0';
			errno = 0;
			k = strtol(colon, &end, 10);
			if (*end || errno || k < 1)
				goto bad;
		}
		if (parse_mode(item, &m) < 0)
			goto bad;
		if (m == EM_HS)
			hs = true;
		if ((m == EM_PING || m == EM_HS) && k != 1)
			goto bad;
		if (m == EM_PING && ep->pinger)
			goto bad;
		if (ep->n + (unsigned)k > EP_MAX_SESSIONS)
			goto bad;
		for (long i = 0; i < k; i++) {
			struct ep_sess *s = &ep->s[ep->n];
			s->ep = ep;
			s->idx = ep->n++;
			s->mode = m;
			if (m == EM_PING)
				ep->pinger = s;
		}
	}
	if (ep->n == 0 || (hs && ep->n != 1))
		return -1; /* hs runs alone */
	return 0;
bad:
	return -1;
}
