/* The settings the relay layer runs with. ops/config.c fills them from
 * md9.conf and the command line (md9_config_daemon_settings); the relay
 * layer knows nothing of files, flags or defaults. */
#ifndef MD9_SETTINGS_H
#define MD9_SETTINGS_H

#include "backend.h"
#include "peerauth.h"
#include "roots.h"
#include "security.h"
#include "tls.h"

#include <stddef.h>

/* What one session needs. Each session keeps its own copy, taken when it
 * opens: a reload (SIGHUP) reaches the sessions opened after it, never a
 * running one. */
struct session_settings {
	struct md9_backend backend;    /* the local RDP server (and the fallback reconnect's) */
	struct md9_peer_policy peer;   /* who may serve it (peerauth.h) */
	enum md9_security security;    /* the security adapter's mode */
	struct md9_tls_pin tls_pin;    /* the server certificate's fingerprint, if set */
	unsigned negotiate_timeout_ms; /* host CR + server CC + TLS + host Connect-Initial */
	unsigned drain_timeout_ms;     /* flushing to the host after the server closed */
	size_t relay_budget;           /* bytes per direction per wake-up */
};

/* What the daemon needs; `session` is what it gives each new session. */
struct daemon_settings {
	char transport[256];     /* "uio" or "sim:PATH"; fixed while running */
	struct md9_roots roots;  /* where "uio" finds sysfs and /dev; fixed while running */
	char status_socket[108]; /* "" = no status socket; fixed while running */
	char status_group[64];   /* who may ask it; fixed while running */
	unsigned max_sessions;   /* sessions open at once */
	struct session_settings session;
};

#endif
