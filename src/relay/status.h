/* `md9 status`: the daemon answers on a UNIX stream socket (status_socket,
 * default /run/md9/status.sock, mode 0660, group status_group = md9-status)
 * from its epoll loop. Byte counters are coarse (status.c: 64 KiB, at most
 * every 4 s) so that polling them shows no typing rhythm.
 *
 * Protocol: the client connects and sends one line, "status" (text) or
 * "status json"; md9 answers and closes. One request per connection; every
 * socket is non-blocking; a client has STATUS_TIMEOUT_MS to send its request
 * and read the answer; at most STATUS_MAX_CLIENTS at once; an answer is at
 * most STATUS_MAX_OUTPUT bytes (cut with a note beyond). */
#ifndef MD9_STATUS_H
#define MD9_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define STATUS_TIMEOUT_MS  2000
#define STATUS_MAX_CLIENTS 16
#define STATUS_MAX_REQUEST 64
#define STATUS_MAX_OUTPUT  (256u * 1024u)

struct daemon;
struct md9_status;

/* Listen on `path` and serve from d->loop. NULL when it cannot (logged as a
 * warning: md9 runs without a status socket). */
struct md9_status *md9_status_start(struct daemon *d, const char *path);
/* Close every connection and the socket, and remove it. NULL is fine. */
void md9_status_stop(struct md9_status *st);

/* The answer to a request, malloc'ed, NUL-terminated; *len excludes the NUL. */
char *md9_status_format(const struct daemon *d, double uptime_s, bool json, size_t *len);

/* The client side: ask the daemon at `path`, copy its answer to out.
 * 0: answered; -errno: could not connect (e.g. -ENOENT, -ECONNREFUSED:
 * md9 is not running) or the exchange failed within timeout_ms. */
int md9_status_query(const char *path, bool json, int timeout_ms, FILE *out);
/* Same, into a malloc'ed NUL-terminated buffer (*answer). */
int md9_status_query_buf(const char *path, bool json, int timeout_ms, char **answer);

#endif
