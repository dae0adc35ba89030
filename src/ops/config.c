#include "config.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void md9_config_defaults(struct md9_config *c)
{
	const char *why;

	memset(c, 0, sizeof(*c));
	strcpy(c->transport, "uio");
	md9_backend_parse("tcp:127.0.0.1:3389", &c->backend, &why);
	c->security = MD9_SEC_AUTO;
	c->log_level = MD9_LOG_INFO;
	c->max_sessions = 16;
	c->negotiate_timeout_ms = 30000;
	c->drain_timeout_ms = 2000;
	c->relay_budget = 1u << 20;
	strcpy(c->status_socket, MD9_DEFAULT_STATUS);
	strcpy(c->status_group, MD9_DEFAULT_STATUS_GROUP);
}

static int parse_uint(const char *v, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long x;

	/* Digits only: strtoul alone takes "+7", " 7" and "-1" (as ULONG_MAX - 0). */
	for (const char *p = v; *p; p++)
		if (*p < '0' || *p > '9')
			return -1;
	errno = 0;
	x = strtoul(v, &end, 10);
	if (errno || end == v || *end || x < min || x > max)
		return -1;
	*out = x;
	return 0;
}

int md9_config_set(struct md9_config *c, const char *key, const char *value, const char **why)
{
	unsigned long n;

	if (strcmp(key, "transport") == 0) {
		if (strcmp(value, "uio") != 0 && strncmp(value, "sim:", 4) != 0) {
			*why = "transport must be uio or sim:PATH";
			return -1;
		}
		if (strlen(value) >= sizeof(c->transport)) {
			*why = "transport too long";
			return -1;
		}
		strcpy(c->transport, value);
	} else if (strcmp(key, "backend") == 0) {
		struct md9_backend b;
		if (md9_backend_parse(value, &b, why) < 0)
			return -1;
		c->backend = b;
	} else if (strcmp(key, "security") == 0) {
		if (md9_security_parse(value, &c->security) < 0) {
			*why = "security must be auto, tls, rdp or passthrough";
			return -1;
		}
	} else if (strcmp(key, "tls_pin") == 0) {
		if (!*value) {
			c->tls_pin.set = false;
		} else if (md9_tls_pin_parse(value, &c->tls_pin) < 0) {
			*why = "tls_pin must be a SHA-256 fingerprint (64 hex digits, colons allowed)";
			return -1;
		}
	} else if (strcmp(key, "log_level") == 0) {
		if (strcmp(value, "debug") == 0)
			c->log_level = MD9_LOG_DEBUG;
		else if (strcmp(value, "info") == 0)
			c->log_level = MD9_LOG_INFO;
		else if (strcmp(value, "warning") == 0)
			c->log_level = MD9_LOG_WARN;
		else if (strcmp(value, "error") == 0)
			c->log_level = MD9_LOG_ERR;
		else {
			*why = "log_level must be debug, info, warning or error";
			return -1;
		}
	} else if (strcmp(key, "status_socket") == 0) {
		if (strlen(value) >= sizeof(c->status_socket)) {
			*why = "status_socket path too long";
			return -1;
		}
		strcpy(c->status_socket, value);
	} else if (strcmp(key, "max_sessions") == 0) {
		if (parse_uint(value, 1, 64, &n) < 0) {
			*why = "max_sessions must be 1-64";
			return -1;
		}
		c->max_sessions = (unsigned)n;
	} else if (strcmp(key, "negotiate_timeout_ms") == 0) {
		if (parse_uint(value, 100, 600000, &n) < 0) {
			*why = "negotiate_timeout_ms must be 100-600000";
			return -1;
		}
		c->negotiate_timeout_ms = (unsigned)n;
	} else if (strcmp(key, "drain_timeout_ms") == 0) {
		if (parse_uint(value, 0, 60000, &n) < 0) {
			*why = "drain_timeout_ms must be 0-60000";
			return -1;
		}
		c->drain_timeout_ms = (unsigned)n;
	} else if (strcmp(key, "relay_budget") == 0) {
		if (parse_uint(value, 16384, 64u << 20, &n) < 0) {
			*why = "relay_budget must be 16384-67108864 bytes";
			return -1;
		}
		c->relay_budget = n;
	} else if (strcmp(key, "user") == 0) {
		if (strlen(value) >= sizeof(c->run_user)) {
			*why = "user name too long";
			return -1;
		}
		strcpy(c->run_user, value);
	} else if (strcmp(key, "allow_root") == 0) {
		if (strcmp(value, "yes") == 0)
			c->allow_root = true;
		else if (strcmp(value, "no") == 0 || !*value)
			c->allow_root = false;
		else {
			*why = "allow_root must be yes or no";
			return -1;
		}
	} else if (strcmp(key, "server_user") == 0) {
		if (strlen(value) >= sizeof(c->server_user)) {
			*why = "server_user name too long";
			return -1;
		}
		strcpy(c->server_user, value);
	} else if (strcmp(key, "status_group") == 0) {
		if (!*value || strlen(value) >= sizeof(c->status_group)) {
			*why = "status_group must be a group name";
			return -1;
		}
		strcpy(c->status_group, value);
	} else {
		*why = "unknown setting";
		return -1;
	}
	return 0;
}

struct load_ctx {
	struct md9_config *c;
	const char *path;
	const char *why;
	char key[64];
};

/* Debian's libinih has no line-number callback: ini_parse_file returns the
 * line of the first error, and the first failing entry's reason is kept. */
static int on_entry(void *user, const char *section, const char *name, const char *value)
{
	struct load_ctx *l = user;
	const char *why = NULL;

	if (section[0] && strcmp(section, "md9") != 0)
		why = "unknown section (expected [md9] or none)";
	else if (md9_config_set(l->c, name, value, &why) == 0)
		return 1;
	if (!l->why) {
		l->why = why;
		snprintf(l->key, sizeof(l->key), "%s", name);
	}
	return 0;
}

int md9_config_finish(struct md9_config *c, char *why, size_t cap)
{
	const char *w = NULL;

	if (c->tls_pin.set && (c->security == MD9_SEC_RDP || c->security == MD9_SEC_PASSTHROUGH)) {
		/* The pin can only be checked in a TLS handshake md9 makes. */
		snprintf(why, cap,
		         "tls_pin needs TLS to the server, which security = %s never uses "
		         "(security = tls or auto honour the pin)",
		         md9_security_name(c->security));
		return -1;
	}
	if (c->backend.family == AF_VSOCK && c->backend.vport >= 1024) {
		snprintf(why, cap,
		         "backend %s: any local user may listen on a vsock port above 1023, and "
		         "a vsock peer has no credentials md9 could check (use a unix: backend, "
		         "or a vsock port below 1024)",
		         c->backend.spec);
		return -1;
	}
	if (md9_peer_policy_resolve(c->server_user, &c->peer, &w) < 0) {
		snprintf(why, cap, "%s: %s", w, c->server_user);
		return -1;
	}
	return md9_backend_resolve(&c->backend, why, cap);
}

int md9_config_load(struct md9_config *c, const char *path, bool optional)
{
	struct load_ctx l = {.path = path};
	struct md9_config tmp = *c;
	FILE *f = fopen(path, "r");
	struct stat st;
	int rc;

	if (!f) {
		if (optional && errno == ENOENT)
			return 0;
		log_err("%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &st) < 0 || S_ISDIR(st.st_mode)) {
		log_err("%s: is a directory, not a configuration file", path);
		fclose(f);
		return -1;
	}
	l.c = &tmp;
	rc = ini_parse_file(f, on_entry, &l);
	fclose(f);
	if (rc != 0) {
		if (l.why)
			log_err("%s:%d: %s: %s", path, rc, l.key, l.why);
		else
			log_err("%s:%d: syntax error", path, rc);
		return -1;
	}
	*c = tmp;
	return 0;
}
