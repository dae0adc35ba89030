/* What the rdp parsers (tpkt.c, x224.c, mcs.c) share: their return
 * convention (tpkt.h) -- 1 complete and valid, 0 more bytes needed, -1
 * malformed -- with a static, human-readable reason in *why. */
#ifndef MD9_PARSE_H
#define MD9_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* Set *why (when asked for) and return -1: `return parse_fail(why, "...");`. */
static inline int parse_fail(const char **why, const char *msg)
{
	if (why)
		*why = msg;
	return -1;
}

/* The name of value v in names[] (indexed by value, NULL in the gaps);
 * "UNKNOWN" for a value the table does not name. For the log lines. */
static inline const char *parse_name(const char *const *names, size_t n, uint32_t v)
{
	return v < n && names[v] ? names[v] : "UNKNOWN";
}

#endif
