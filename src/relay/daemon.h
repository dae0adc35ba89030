/* md9's daemon: the event loop, the transport's device events, the control
 * channel (ctrlchan.h) and the registry of sessions it starts, one per data
 * channel (session.h), and the status socket's snapshot (status.h). The host
 * is never a reason to exit. */
#ifndef MD9_DAEMON_H
#define MD9_DAEMON_H

#include "settings.h"

struct daemon;

/* The most sessions a daemon holds, whatever max_sessions says. */
#define DAEMON_MAX_SESSIONS 64

/* What the daemon's caller does at three points of its life (the service
 * manager's notifications, the configuration). Any may be NULL. */
struct daemon_hooks {
	void *arg;
	/* md9 serves: the status socket is up, the transport polled once. */
	void (*ready)(void *arg);
	/* SIGHUP: read the configuration again and call daemon_reconfigure. */
	void (*reload)(void *arg);
	/* The loop ended (a signal, or the transport failed); sessions close next. */
	void (*stopping)(void *arg);
};

/* A daemon's life, in this order: daemon_new; daemon_open sets up the loop
 * and signals, opens the transport and binds the SynthRdp classes to it
 * (root on uio: new_id); then the caller drops root; daemon_run starts the
 * status socket and serves until SIGINT or SIGTERM; daemon_free. daemon_new
 * returns NULL and daemon_open -1 on failure (logged); daemon_run returns
 * the exit status. */
struct daemon *daemon_new(const struct daemon_settings *set, const struct daemon_hooks *hooks);
int daemon_open(struct daemon *d);
int daemon_run(struct daemon *d);
void daemon_free(struct daemon *d);
/* New settings for the sessions opened from now on; the transport stays. */
void daemon_reconfigure(struct daemon *d, const struct daemon_settings *set);

#endif
