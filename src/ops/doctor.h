/* `md9 doctor`: is this guest ready for Enhanced Session over VMBus? One
 * line per check, "ok", "warn" or "FAIL", what was found and, unless ok, the
 * fix. Every file it reads lives under a root that tests point at a fake
 * tree (the hidden flags --root-sys, --root-proc, --root-etc, --root-dev,
 * --root-run, --root-lib). CPUID is asked only when the sys and proc roots
 * are the real ones. */
#ifndef MD9_DOCTOR_H
#define MD9_DOCTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct md9_roots {
	const char *sys;  /* "/sys" */
	const char *proc; /* "/proc" */
	const char *etc;  /* "/etc" */
	const char *dev;  /* "/dev" */
	const char *run;  /* "/run" */
	const char *lib;  /* "/lib" (modules/<release>/modules.dep) */
};

void md9_roots_default(struct md9_roots *r);

struct md9_doctor_opts {
	struct md9_roots roots;
	const char *config;   /* NULL: <etc>/md9/md9.conf, optional */
	const char *security; /* NULL: from the configuration */
	const char *backend;  /* NULL: from the configuration */
	int timeout_ms;       /* for the status socket and the backend, 0: 1500 */
};

/* Run every check, print one line each and a summary. Returns 0 when no
 * check failed, 1 otherwise. */
int md9_doctor(const struct md9_doctor_opts *o, FILE *out);

/* The [Globals] settings of an xrdp.ini that matter to md9
 * (protocol.md §7). Absent keys keep xrdp's defaults: port 3389,
 * security_layer negotiate, crypt_level high, vmconnect false. */
struct md9_xrdp_ini {
	char port[256];
	char security_layer[32];
	char crypt_level[32];
	bool vmconnect;
	bool use_vsock; /* old spelling: a bare port number means vsock */
	bool has_port, has_security_layer, has_crypt_level, has_vmconnect;
};
/* 0, or -errno when the file cannot be read. */
int md9_xrdp_ini_read(const char *path, struct md9_xrdp_ini *out);
/* Does xrdp listen on TCP `port` (port=3389, tcp://.:3389, tcp6://...)? */
bool md9_xrdp_listens_tcp(const struct md9_xrdp_ini *x, unsigned port);
/* Does it listen on vsock (vsock://CID:PORT, or use_vsock=true)? *only:
 * on nothing else. */
bool md9_xrdp_listens_vsock(const struct md9_xrdp_ini *x, bool *only);
/* A listener that the network reaches (not loopback, not unix://,
 * vsock://), copied to buf; NULL when there is none. */
const char *md9_xrdp_network_listener(const struct md9_xrdp_ini *x, char *buf, size_t cap);
/* One listener of port= ("3389", "tcp://.:3389", "unix://./p", ...): does
 * the network reach it? */
bool md9_xrdp_listener_is_network(const char *l, const struct md9_xrdp_ini *x);
/* xrdp's boolean spelling: true/yes/1 (any case). */
bool md9_ini_true(const char *v);

#endif
