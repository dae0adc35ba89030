/* sd_notify(3) without libsystemd: one datagram per state change to the
 * AF_UNIX socket systemd names in $NOTIFY_SOCKET (a path, or an abstract
 * name written with a leading '@'). Without $NOTIFY_SOCKET (not started by
 * systemd as Type=notify) every call does nothing. */
#ifndef MD9_NOTIFY_H
#define MD9_NOTIFY_H

/* Send `state` ("READY=1", "STOPPING=1", several lines separated by '\n').
 * 1: sent; 0: no $NOTIFY_SOCKET; -errno: it could not be sent (logged at
 * debug level: the service manager's absence is never md9's problem). */
int md9_notify(const char *state);
/* printf-style md9_notify. */
int md9_notifyf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "RELOADING=1" with the MONOTONIC_USEC= that Type=notify-reload expects. */
int md9_notify_reloading(void);

#endif
