/* `md9 status`'s side of the status socket (relay/status.h has the
 * protocol): ask the running md9 and return its answer. */
#ifndef MD9_STATUS_QUERY_H
#define MD9_STATUS_QUERY_H

#include "status.h"

#include <stdbool.h>
#include <stdio.h>

/* Ask the daemon at `path`, copy its answer to out. 0: answered; -errno:
 * could not connect (e.g. -ENOENT, -ECONNREFUSED: md9 is not running) or
 * the exchange failed within timeout_ms. */
int md9_status_query(const char *path, bool json, int timeout_ms, FILE *out);
/* Same, into a malloc'ed NUL-terminated buffer (*answer). */
int md9_status_query_buf(const char *path, bool json, int timeout_ms, char **answer);

#endif
