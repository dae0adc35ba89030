#include "config.h"

#include "number.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

/* ---- the settings that need more than their type's rule ---- */

static int check_transport(const char *v, const char **why)
{
	if (strcmp(v, "uio") != 0 && strncmp(v, "sim:", 4) != 0) {
		*why = "transport must be uio or sim:PATH";
		return -1;
	}
	return 0;
}

static int check_group(const char *v, const char **why)
{
	if (!*v) {
		*why = "status_group must be a group name";
		return -1;
	}
	return 0;
}

static int apply_backend(struct md9_config *c, const char *v, const char **why)
{
	struct md9_backend b;

	if (md9_backend_parse(v, &b, why) < 0)
		return -1;
	c->backend = b;
	return 0;
}

static int apply_tls_pin(struct md9_config *c, const char *v, const char **why)
{
	struct md9_tls_pin pin = {0};

	if (*v && md9_tls_pin_parse(v, &pin) < 0) {
		*why = "tls_pin must be a SHA-256 fingerprint (64 hex digits, colons allowed)";
		return -1;
	}
	c->tls_pin = pin;
	return 0;
}

static const char *security_name(int v)
{
	return md9_security_name((enum md9_security)v);
}

static const char *log_level_name(int v)
{
	return md9_log_level_name((enum md9_log_level)v);
}

static const int security_values[] = {MD9_SEC_AUTO, MD9_SEC_TLS, MD9_SEC_RDP, MD9_SEC_PASSTHROUGH};
static const int log_level_values[] = {MD9_LOG_DEBUG, MD9_LOG_INFO, MD9_LOG_WARN, MD9_LOG_ERR};

#define FIELD(f)       .off = offsetof(struct md9_config, f), .size = sizeof(((struct md9_config *)0)->f)
#define CHOICES(v, fn) .values = v, .nvalues = sizeof(v) / sizeof(v[0]), .name = fn

/* ---- the table ---- */

/* One row a setting, laid out by hand (clang-format would put each field on
 * a line of its own): key, md9 run's option letter, the value's name, type,
 * default and the field; the type's rule (range, choices, check or apply);
 * the usage line; the md9.conf comment. */
/* clang-format off */
const struct md9_setting md9_config_settings[] = {
    {"transport", 't', "T", MD9_SETTING_TEXT, "uio", FIELD(transport),
     .check = check_transport,
     .doc = "how md9 reaches the VMBus channels: uio or sim:PATH",
     .more = "  uio       real Hyper-V, through the uio_hv_generic driver\n"
             "  sim:PATH  the md9-hostsim simulator listening on the UNIX socket PATH"},
    {"backend", 'b', "SPEC", MD9_SETTING_TEXT, "tcp:127.0.0.1:3389",
     .apply = apply_backend,
     .doc = "the local RDP server: tcp:HOST:PORT, unix:PATH or vsock:CID:PORT",
     .more = "Each session is relayed to it. IPv6: tcp:[ADDRESS]:PORT. A unix: path is\n"
             "absolute; a vsock port below 1024. HOST is looked up when the file is\n"
             "loaded. md9 setup sets unix:/run/xrdp/xrdp.sock (xrdp's own directory)."},
    {"server_user", 0, "NAME", MD9_SETTING_TEXT, "", FIELD(server_user),
     .doc = "who may serve the backend",
     .more = "Before a byte of a session reaches it, md9 checks the user the server\n"
             "runs as (unix: SO_PEERCRED; tcp: the owner of that very connection's\n"
             "socket) and ends the session if it is not this user, root or md9's own\n"
             "user. Empty: xrdp (Debian's xrdp runs as it) if that user exists."},
    {"security", 's', "MODE", MD9_SETTING_CHOICE, "auto", FIELD(security),
     CHOICES(security_values, security_name),
     .doc = "what md9 does with the host's plaintext MCS Connect-Initial",
     .more = "  auto         ask the server for TLS and be its TLS client; plain when the\n"
             "               server chooses standard RDP security (xrdp: with\n"
             "               security_layer=rdp only with crypt_level=none)\n"
             "  tls          always TLS between md9 and the server\n"
             "  rdp          ask for standard RDP security (xrdp: crypt_level=none)\n"
             "  passthrough  forward the host's request unchanged (only for a server with a\n"
             "               vmconnect mode; Debian 12's xrdp and FreeRDP have none)\n"
             "A server that encrypts standard RDP security or requires NLA works in no\n"
             "mode; md9 doctor says which (its \"rdp security\" line) and how to fix it."},
    {"tls_pin", 0, "SHA256", MD9_SETTING_TEXT, "",
     .apply = apply_tls_pin,
     .doc = "accept only a server certificate with this SHA-256 fingerprint",
     .more = "64 hex digits, colons allowed, optional \"sha256:\" prefix. Empty: the\n"
             "local server's certificate is not checked. Set, it means TLS or nothing:\n"
             "auto never falls back to standard RDP security, and security = rdp or\n"
             "passthrough with a pin is refused when the file is loaded."},
    {"log_level", 0, "LEVEL", MD9_SETTING_CHOICE, "info", FIELD(log_level),
     CHOICES(log_level_values, log_level_name),
     .doc = "how much md9 logs",
     .more = "debug, info, warning or error. `md9 run -v` is debug."},
    {"status_socket", 0, "PATH", MD9_SETTING_TEXT, MD9_DEFAULT_STATUS, FIELD(status_socket),
     .doc = "the socket where `md9 status` asks the running md9",
     .more = "Mode 0660, group status_group. Empty: no status socket. Its byte counters\n"
             "move in 64 KiB steps, at most every 4 s, so that they show no typing\n"
             "rhythm."},
    {"status_group", 0, "GROUP", MD9_SETTING_TEXT, MD9_DEFAULT_STATUS_GROUP, FIELD(status_group),
     .check = check_group,
     .doc = "the group whose members may ask md9 status",
     .more = "Members may run md9 doctor against md9 too; the group gives no access to\n"
             "the sessions. md9's user must be a member."},
    {"max_sessions", 0, "N", MD9_SETTING_NUMBER, "16", FIELD(max_sessions),
     .min = 1, .max = 64,
     .doc = "sessions open at once",
     .more = "More CreateSession requests are refused."},
    {"negotiate_timeout_ms", 0, "MS", MD9_SETTING_NUMBER, "30000", FIELD(negotiate_timeout_ms),
     .min = 100, .max = 600000,
     .doc = "milliseconds for a session's negotiation",
     .more = "The host's Connection Request, the server's Connection Confirm and the\n"
             "TLS handshake."},
    {"drain_timeout_ms", 0, "MS", MD9_SETTING_NUMBER, "2000", FIELD(drain_timeout_ms),
     .min = 0, .max = 60000,
     .doc = "milliseconds md9 flushes to the host after the server closed"},
    {"relay_budget", 0, "BYTES", MD9_SETTING_NUMBER, "1048576", FIELD(relay_budget),
     .min = 16384, .max = 64u << 20, .unit = "bytes",
     .doc = "bytes relayed per direction before md9 serves other work"},
    {"user", 0, "NAME", MD9_SETTING_TEXT, "", FIELD(run_user),
     .doc = "the user md9 becomes after binding, when started as root",
     .more = "The unit starts md9 as that user directly. Empty: \"md9\". The user must\n"
             "exist: md9 does not go on as root unless allow_root = yes."},
    {"allow_root", 0, "yes|no", MD9_SETTING_YESNO, "no", FIELD(allow_root),
     .doc = "whether md9 may keep running as root (user = root, or no such user)",
     .more = "Not recommended: md9 needs root only to bind the classes."},
};
/* clang-format on */

/* CHOICE fields are written as int. */
_Static_assert(sizeof(enum md9_security) == sizeof(int), "security is an int-sized enum");
_Static_assert(sizeof(enum md9_log_level) == sizeof(int), "log_level is an int-sized enum");

#define NSETTINGS (sizeof(md9_config_settings) / sizeof(md9_config_settings[0]))
const size_t md9_config_nsettings = NSETTINGS;

/* The reasons and option names made from the table: one static buffer per
 * row, always holding the same text, so a pointer to it stays good. */
static char why_text[NSETTINGS][160];
static char option_text[NSETTINGS][64];

static size_t row_of(const struct md9_setting *s)
{
	return (size_t)(s - md9_config_settings);
}

const struct md9_setting *md9_config_setting(const char *key)
{
	for (size_t i = 0; i < NSETTINGS; i++)
		if (strcmp(md9_config_settings[i].key, key) == 0)
			return &md9_config_settings[i];
	return NULL;
}

const char *md9_config_option_name(const struct md9_setting *s)
{
	char *o = option_text[row_of(s)];

	if (!o[0]) {
		snprintf(o, sizeof(option_text[0]), "%s", s->key);
		for (char *p = o; *p; p++)
			if (*p == '_')
				*p = '-';
	}
	return o;
}

const struct md9_setting *md9_config_setting_by_option(const char *name)
{
	for (size_t i = 0; i < NSETTINGS; i++)
		if (strcmp(md9_config_option_name(&md9_config_settings[i]), name) == 0)
			return &md9_config_settings[i];
	return NULL;
}

/* "auto, tls, rdp or passthrough" */
static void list_choices(const struct md9_setting *s, char *buf, size_t cap)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < s->nvalues && len < cap; i++) {
		const char *sep = i == 0 ? "" : i + 1 == s->nvalues ? " or " : ", ";

		len += (size_t)snprintf(buf + len, cap - len, "%s%s", sep, s->name(s->values[i]));
	}
}

/* Why a value of s was refused, for the rows whose reason the table makes. */
static const char *why_of(const struct md9_setting *s)
{
	char *w = why_text[row_of(s)], list[96];
	size_t cap = sizeof(why_text[0]);

	if (w[0])
		return w;
	switch (s->type) {
	case MD9_SETTING_NUMBER:
		snprintf(w, cap, "%s must be %llu-%llu%s%s", s->key, (unsigned long long)s->min,
		         (unsigned long long)s->max, s->unit ? " " : "", s->unit ? s->unit : "");
		break;
	case MD9_SETTING_CHOICE:
		list_choices(s, list, sizeof(list));
		snprintf(w, cap, "%s must be %s", s->key, list);
		break;
	case MD9_SETTING_TEXT:
		snprintf(w, cap, "%s too long (at most %zu bytes)", s->key, s->size - 1);
		break;
	case MD9_SETTING_YESNO:
		snprintf(w, cap, "%s must be yes or no", s->key);
		break;
	}
	return w;
}

const char *md9_config_describe(const struct md9_setting *s, char *buf, size_t cap)
{
	char list[96];

	switch (s->type) {
	case MD9_SETTING_NUMBER:
		snprintf(buf, cap, "%llu-%llu, default %s", (unsigned long long)s->min,
		         (unsigned long long)s->max, s->def);
		break;
	case MD9_SETTING_CHOICE:
		list_choices(s, list, sizeof(list));
		snprintf(buf, cap, "%s; default %s", list, s->def);
		break;
	case MD9_SETTING_TEXT:
		snprintf(buf, cap, "default %s", s->def[0] ? s->def : "empty");
		break;
	case MD9_SETTING_YESNO:
		snprintf(buf, cap, "yes or no; default %s", s->def);
		break;
	}
	return buf;
}

static int apply(struct md9_config *c, const struct md9_setting *s, const char *v, const char **why)
{
	char *field = (char *)c + s->off;
	uint64_t n;

	if (s->apply)
		return s->apply(c, v, why);
	switch (s->type) {
	case MD9_SETTING_TEXT:
		if (s->check && s->check(v, why) < 0)
			return -1;
		if (strlen(v) >= s->size) {
			*why = why_of(s);
			return -1;
		}
		strcpy(field, v);
		return 0;
	case MD9_SETTING_NUMBER:
		if (md9_number_parse(v, s->min, s->max, &n) < 0) {
			*why = why_of(s);
			return -1;
		}
		if (s->size == sizeof(size_t))
			*(size_t *)(void *)field = (size_t)n;
		else
			*(unsigned *)(void *)field = (unsigned)n;
		return 0;
	case MD9_SETTING_CHOICE:
		for (size_t i = 0; i < s->nvalues; i++) {
			if (strcmp(v, s->name(s->values[i])) == 0) {
				*(int *)(void *)field = s->values[i];
				return 0;
			}
		}
		*why = why_of(s);
		return -1;
	case MD9_SETTING_YESNO:
		if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0 && *v) {
			*why = why_of(s);
			return -1;
		}
		*(bool *)(void *)field = strcmp(v, "yes") == 0;
		return 0;
	}
	*why = "unknown setting type";
	return -1;
}

int md9_config_set(struct md9_config *c, const char *key, const char *value, const char **why)
{
	const struct md9_setting *s = md9_config_setting(key);

	if (!s) {
		*why = "unknown setting";
		return -1;
	}
	return apply(c, s, value, why);
}

void md9_config_defaults(struct md9_config *c)
{
	const char *why;

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < NSETTINGS; i++) {
		if (apply(c, &md9_config_settings[i], md9_config_settings[i].def, &why) < 0) {
			/* A default the table itself refuses: test_config catches it. */
			log_err("built-in default %s = %s: %s", md9_config_settings[i].key,
			        md9_config_settings[i].def, why);
			abort();
		}
	}
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

/* ---- md9.conf, the template ---- */

static const char template_head[] =
    "# /etc/md9/md9.conf: md9's configuration (man md9.conf(5)).\n"
    "#\n"
    "# Every setting is optional: the values shown commented out are the\n"
    "# built-in defaults. Options given to `md9 run` override this file: each\n"
    "# key is also an option, --KEY VALUE, with '-' for '_' in KEY.\n"
    "# After editing: systemctl reload md9 (SIGHUP). New sessions use the new\n"
    "# settings; open ones keep theirs. transport and status_socket only change\n"
    "# at a restart. An invalid file is refused with FILE:LINE and the reason:\n"
    "# at start md9 exits, on reload it keeps running with the old settings.\n"
    "\n"
    "[md9]\n";

/* Every line of text (split at '\n') as a comment. */
static void comment_lines(FILE *out, const char *text)
{
	while (text && *text) {
		size_t n = strcspn(text, "\n");

		fprintf(out, "#%s%.*s\n", n ? " " : "", (int)n, text);
		text += n + (text[n] == '\n');
	}
}

void md9_config_template(FILE *out)
{
	fputs(template_head, out);
	for (size_t i = 0; i < NSETTINGS; i++) {
		const struct md9_setting *s = &md9_config_settings[i];

		fprintf(out, "\n# %c%s", toupper((unsigned char)s->doc[0]), s->doc + 1);
		if (s->type == MD9_SETTING_NUMBER)
			fprintf(out, " (%llu-%llu)", (unsigned long long)s->min,
			        (unsigned long long)s->max);
		fputs(".\n", out);
		comment_lines(out, s->more);
		fprintf(out, "#%s =%s%s\n", s->key, s->def[0] ? " " : "", s->def);
	}
}

char *md9_config_template_text(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	md9_config_template(f);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* ---- md9.conf, the reader ---- */

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

void md9_config_daemon_settings(const struct md9_config *c, struct daemon_settings *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->transport, sizeof(out->transport), "%s", c->transport);
	snprintf(out->status_socket, sizeof(out->status_socket), "%s", c->status_socket);
	snprintf(out->status_group, sizeof(out->status_group), "%s", c->status_group);
	out->max_sessions = c->max_sessions;
	out->session.backend = c->backend;
	out->session.peer = c->peer;
	out->session.security = c->security;
	out->session.tls_pin = c->tls_pin;
	out->session.negotiate_timeout_ms = c->negotiate_timeout_ms;
	out->session.drain_timeout_ms = c->drain_timeout_ms;
	out->session.relay_budget = c->relay_budget;
}
