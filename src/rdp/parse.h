/* What the rdp parsers (tpkt.c, x224.c, mcs.c) share: their return
 * convention (tpkt.h) -- 1 complete and valid, 0 more bytes needed, -1
 * malformed -- with a static, human-readable reason in *why. */
#ifndef MD9_PARSE_H
#define MD9_PARSE_H

/* Set *why (when asked for) and return -1: `return parse_fail(why, "...");`. */
static inline int parse_fail(const char **why, const char *msg)
{
	if (why)
		*why = msg;
	return -1;
}

#endif
