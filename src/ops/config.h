/* md9's settings: built-in defaults, then /etc/md9/md9.conf (INI), then the
 * command line. */
#ifndef MD9_CONFIG_H
#define MD9_CONFIG_H

#include "adapter.h"
#include "backend.h"
#include "log.h"
#include "peerauth.h"
#include "tls.h"

#include <stddef.h>

#define MD9_DEFAULT_CONFIG "/etc/md9/md9.conf"
#define MD9_DEFAULT_STATUS "/run/md9/status.sock"

struct md9_config {
	char transport[256];            /* "uio" or "sim:PATH" */
	struct md9_backend backend;     /* default tcp:127.0.0.1:3389 */
	enum md9_security security;     /* default auto */
	struct md9_tls_pin tls_pin;     /* optional */
	enum md9_log_level log_level;   /* default info */
	char status_socket[108];        /* "" disables */
	unsigned max_sessions;          /* default 16 */
	unsigned negotiate_timeout_ms;  /* host CR + server CC + TLS, default 30000 */
	unsigned drain_timeout_ms;      /* flushing to the host after the server closed, default 2000 */
	size_t relay_budget;            /* bytes per direction per wake-up, default 1 MiB */
	char run_user[64];     /* started as root: drop to this user after binding ("" = md9) */
	bool allow_root;       /* allow_root = yes: md9 may keep running as root */
	char server_user[64];  /* who may serve the backend ("" = xrdp if it exists) */
	char status_group[64]; /* group that may use the status socket, default md9-status */
	struct md9_peer_policy peer; /* server_user, resolved by md9_config_finish */
};

#define MD9_DEFAULT_STATUS_GROUP "md9-status"

void md9_config_defaults(struct md9_config *c);
/* Parse an INI file over c. 0, or -1 after logging "FILE:LINE: reason".
 * A missing file is not an error when `optional`. */
int md9_config_load(struct md9_config *c, const char *path, bool optional);
/* One "key = value" setting (same keys as the file, used by flags too). */
int md9_config_set(struct md9_config *c, const char *key, const char *value, const char **why);
/* After the file and the flags: refuse combinations that contradict each
 * other (tls_pin with a mode that never uses TLS, a vsock port any user can
 * bind), resolve server_user and look the tcp backend's host up (blocking:
 * never called from the event loop). 0, or -1 with a one-line reason. */
int md9_config_finish(struct md9_config *c, char *why, size_t cap);

#endif
