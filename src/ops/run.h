/* `md9 run`: the relay daemon (relay/daemon.h) as a service. This is where
 * the configuration becomes the daemon's settings (again on SIGHUP), where
 * md9 gives up root after binding the classes, and where the service
 * manager hears READY, RELOADING and STOPPING (notify.h). */
#ifndef MD9_RUN_H
#define MD9_RUN_H

#include "roots.h"

#include <stdbool.h>

struct md9_run_opts {
	const char *config_path; /* md9.conf */
	bool config_optional;    /* the default path may be missing */
	/* Settings given on the command line, applied over the file, again on
	 * every reload. */
	struct {
		const char *key, *value;
	} cli[16];
	int ncli;
	struct md9_roots roots; /* where the uio transport finds sysfs and /dev */
};

/* Serve until SIGINT/SIGTERM. The exit status: 0, 1 (configuration file,
 * set-up or run failed), 2 (a bad command-line setting). */
int md9_run(const struct md9_run_opts *o);

#endif
