/* md9's settings: built-in defaults, then /etc/md9/md9.conf (INI), then the
 * command line.
 *
 * Every setting is one row of md9_config_settings (config.c): its key, type,
 * default, range and documentation. From that one table come the defaults,
 * the validation of md9.conf and of `--KEY VALUE` options, the options'
 * usage lines, and the md9.conf template (packaging/md9.conf; test_config
 * fails when the file and the table differ). To add a setting: a field in
 * struct md9_config, a row in the table, its entry in man/md9.conf.5
 * (test_config checks that every key is there), then regenerate
 * packaging/md9.conf (cmake --build BUILD --target md9.conf). */
#ifndef MD9_CONFIG_H
#define MD9_CONFIG_H

#include "adapter.h"
#include "backend.h"
#include "log.h"
#include "peerauth.h"
#include "settings.h"
#include "tls.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MD9_DEFAULT_CONFIG "/etc/md9/md9.conf"
#define MD9_DEFAULT_STATUS "/run/md9/status.sock"

struct md9_config {
	char transport[256];           /* "uio" or "sim:PATH" */
	struct md9_backend backend;    /* default tcp:127.0.0.1:3389 */
	enum md9_security security;    /* default auto */
	struct md9_tls_pin tls_pin;    /* optional */
	enum md9_log_level log_level;  /* default info */
	char status_socket[108];       /* "" disables */
	unsigned max_sessions;         /* default 16 */
	unsigned negotiate_timeout_ms; /* host CR + server CC + TLS, default 30000 */
	unsigned drain_timeout_ms; /* flushing to the host after the server closed, default 2000 */
	size_t relay_budget;       /* bytes per direction per wake-up, default 1 MiB */
	char run_user[64];         /* started as root: drop to this user after binding ("" = md9) */
	bool allow_root;           /* allow_root = yes: md9 may keep running as root */
	char server_user[64];      /* who may serve the backend ("" = xrdp if it exists) */
	char status_group[64];     /* group that may use the status socket, default md9-status */
	struct md9_peer_policy peer; /* server_user, resolved by md9_config_finish */
};

#define MD9_DEFAULT_STATUS_GROUP "md9-status"

enum md9_setting_type {
	MD9_SETTING_TEXT,   /* a string; `check` may refuse it */
	MD9_SETTING_NUMBER, /* decimal digits, min..max (md9_number_parse) */
	MD9_SETTING_CHOICE, /* one of `values`, by their `name` */
	MD9_SETTING_YESNO,  /* "yes" or "no" ("" is no), into a bool */
};

struct md9_setting {
	const char *key; /* md9.conf's key; the option is --KEY, '_' as '-' */
	char short_opt;  /* md9 run's one-letter option, or 0 */
	const char *arg; /* the value's name in usage lines: "SPEC", "N" */
	enum md9_setting_type type;
	const char *def;            /* the default, as md9.conf writes it */
	uint64_t min, max;          /* NUMBER */
	const char *unit;           /* NUMBER: said after the range ("bytes"), or NULL */
	const int *values;          /* CHOICE: the values, in the order the docs list them */
	size_t nvalues;             /* CHOICE */
	const char *(*name)(int v); /* CHOICE: the word for a value */
	/* TEXT: refuse a value (0, or -1 with *why), or NULL. */
	int (*check)(const char *v, const char **why);
	/* Parse v into c instead of the type's rule (0, or -1 with *why), or NULL. */
	int (*apply)(struct md9_config *c, const char *v, const char **why);
	size_t off, size; /* the field in struct md9_config (unless apply) */
	const char *doc;  /* one line, lower case, no final stop: the usage text */
	const char *more; /* md9.conf: lines after the doc ('\n'-separated), or NULL */
};

extern const struct md9_setting md9_config_settings[];
extern const size_t md9_config_nsettings;

/* The row of `key`, NULL when md9 has no such setting. */
const struct md9_setting *md9_config_setting(const char *key);
/* The row whose option is `--name` (key with '-' for '_'), or NULL. */
const struct md9_setting *md9_config_setting_by_option(const char *name);
/* The option of s: key with '-' for '_' ("max-sessions"); a static string. */
const char *md9_config_option_name(const struct md9_setting *s);
/* "16", "1-64, default 16" style text for usage lines: what s accepts and
 * its default, written to buf. */
const char *md9_config_describe(const struct md9_setting *s, char *buf, size_t cap);

void md9_config_defaults(struct md9_config *c);
/* Parse an INI file over c. 0, or -1 after logging "FILE:LINE: reason".
 * A missing file is not an error when `optional`. */
int md9_config_load(struct md9_config *c, const char *path, bool optional);
/* One "key = value" setting (same keys as the file, used by options too).
 * 0, or -1 with *why (a static string). */
int md9_config_set(struct md9_config *c, const char *key, const char *value, const char **why);
/* After the file and the options: refuse combinations that contradict each
 * other (tls_pin with a mode that never uses TLS, a vsock port any user can
 * bind), resolve server_user and look the tcp backend's host up (blocking:
 * never called from the event loop). 0, or -1 with a one-line reason. */
int md9_config_finish(struct md9_config *c, char *why, size_t cap);
/* md9.conf with every setting commented out at its default and documented:
 * what packaging/md9.conf holds and `md9 setup` installs. */
void md9_config_template(FILE *out);
/* The same, malloc'ed; NULL when out of memory. */
char *md9_config_template_text(void);
/* The settings the relay layer runs with (relay/settings.h), from c. */
void md9_config_daemon_settings(const struct md9_config *c, struct daemon_settings *out);

#endif
