/* md9's configuration (src/ops/config.c): defaults, every key, invalid values
 * named by FILE:LINE, and the reload rule "an invalid file changes nothing"
 * (ops/run.c's reload keeps the running configuration when
 * md9_config_load fails), all through md9_config_load on temporary files. */
#include "config.h"
#include "log.h"

#include "tmpdir_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Run md9_config_load with stderr captured: returns its result, *err gets
 * what it logged. */
static int load_capture(struct md9_config *c, const char *path, bool optional, char *err,
                        size_t cap)
{
	char cap_path[300];
	int saved, fd, rc;
	ssize_t n;

	snprintf(cap_path, sizeof(cap_path), "%s/stderr", tmpdir_path);
	fd = open(cap_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	rc = md9_config_load(c, path, optional);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	lseek(fd, 0, SEEK_SET);
	n = read(fd, err, cap - 1);
	err[n > 0 ? n : 0] = '\0';
	close(fd);
	return rc;
}

static int setup_dir(void **state)
{
	md9_log_init("test_config", MD9_LOG_INFO);
	return tmpdir_setup(state);
}

static void test_defaults(void **state)
{
	struct md9_config c;

	(void)state;
	md9_config_defaults(&c);
	assert_string_equal(c.transport, "uio");
	assert_string_equal(c.backend.spec, "tcp:127.0.0.1:3389");
	assert_string_equal(c.backend.host, "127.0.0.1");
	assert_string_equal(c.backend.port, "3389");
	assert_int_equal(c.security, MD9_SEC_AUTO);
	assert_false(c.tls_pin.set);
	assert_int_equal(c.log_level, MD9_LOG_INFO);
	assert_string_equal(c.status_socket, MD9_DEFAULT_STATUS);
	assert_string_equal(c.status_socket, "/run/md9/status.sock");
	assert_int_equal(c.max_sessions, 16);
	assert_int_equal(c.negotiate_timeout_ms, 30000);
	assert_int_equal(c.drain_timeout_ms, 2000);
	assert_int_equal(c.relay_budget, 1u << 20);
	assert_string_equal(c.run_user, "");
}

static void test_missing_file(void **state)
{
	struct md9_config c, d;
	char err[1024];
	char path[300];

	(void)state;
	snprintf(path, sizeof(path), "%s/does-not-exist.conf", tmpdir_path);
	md9_config_defaults(&c);
	d = c;
	/* optional (the default path): defaults stay, no error */
	assert_int_equal(load_capture(&c, path, true, err, sizeof(err)), 0);
	assert_memory_equal(&c, &d, sizeof(c));
	assert_string_equal(err, "");
	/* named with --config: an error naming the file */
	assert_int_equal(load_capture(&c, path, false, err, sizeof(err)), -1);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "No such file"));
}

static void test_every_key(void **state)
{
	struct md9_config c;
	char err[1024];
	const char *p = tmpdir_put_text(
	    "all.conf", "; every key md9 knows\n"
	                "[md9]\n"
	                "transport = sim:/tmp/bus\n"
	                "backend = unix:/run/xrdp/xrdp.sock\n"
	                "security = passthrough\n"
	                "tls_pin = sha256:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:"
	                "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89\n"
	                "log_level = debug\n"
	                "status_socket = /tmp/md9-status.sock\n"
	                "max_sessions = 64\n"
	                "negotiate_timeout_ms = 100\n"
	                "drain_timeout_ms = 0\n"
	                "relay_budget = 16384\n"
	                "user = nobody\n");

	(void)state;
	md9_config_defaults(&c);
	assert_int_equal(load_capture(&c, p, false, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_string_equal(c.transport, "sim:/tmp/bus");
	assert_string_equal(c.backend.spec, "unix:/run/xrdp/xrdp.sock");
	assert_int_equal(c.backend.family, AF_UNIX);
	assert_string_equal(c.backend.path, "/run/xrdp/xrdp.sock");
	assert_int_equal(c.security, MD9_SEC_PASSTHROUGH);
	assert_true(c.tls_pin.set);
	assert_int_equal(c.tls_pin.sha256[0], 0xab);
	assert_int_equal(c.tls_pin.sha256[31], 0x89);
	assert_int_equal(c.log_level, MD9_LOG_DEBUG);
	assert_string_equal(c.status_socket, "/tmp/md9-status.sock");
	assert_int_equal(c.max_sessions, 64);
	assert_int_equal(c.negotiate_timeout_ms, 100);
	assert_int_equal(c.drain_timeout_ms, 0);
	assert_int_equal(c.relay_budget, 16384);
	assert_string_equal(c.run_user, "nobody");

	/* Keys outside any section count as [md9]; the other values of the
	 * enumerations; an empty status_socket and tls_pin turn them off. */
	p = tmpdir_put_text("more.conf", "transport = uio\n"
	                                 "backend = tcp:[::1]:3390\n"
	                                 "security = rdp\n"
	                                 "tls_pin =\n"
	                                 "log_level = warning\n"
	                                 "status_socket =\n"
	                                 "max_sessions = 1\n"
	                                 "negotiate_timeout_ms = 600000\n"
	                                 "drain_timeout_ms = 60000\n"
	                                 "relay_budget = 67108864\n"
	                                 "user = root\n");
	assert_int_equal(load_capture(&c, p, false, err, sizeof(err)), 0);
	assert_string_equal(c.transport, "uio");
	assert_string_equal(c.backend.spec, "tcp:[::1]:3390");
	assert_string_equal(c.backend.port, "3390");
	assert_int_equal(c.security, MD9_SEC_RDP);
	assert_false(c.tls_pin.set);
	assert_int_equal(c.log_level, MD9_LOG_WARN);
	assert_string_equal(c.status_socket, "");
	assert_int_equal(c.max_sessions, 1);
	assert_int_equal(c.negotiate_timeout_ms, 600000);
	assert_int_equal(c.drain_timeout_ms, 60000);
	assert_int_equal(c.relay_budget, 64u << 20);
	assert_string_equal(c.run_user, "root");

	p = tmpdir_put_text("last.conf", "[md9]\nsecurity = tls\nlog_level = error\n"
	                                 "backend = vsock:2:3389\nsecurity = auto\n");
	assert_int_equal(load_capture(&c, p, false, err, sizeof(err)), 0);
	assert_int_equal(c.security, MD9_SEC_AUTO); /* the last assignment wins */
	assert_int_equal(c.log_level, MD9_LOG_ERR);
	assert_string_equal(c.backend.spec, "vsock:2:3389");
}

/* The example shipped as /etc/md9/md9.conf loads and means the defaults. */
static void test_example_is_defaults(void **state)
{
	const char *ex = getenv("MD9_EXAMPLE_CONF");
	struct md9_config c, d;
	char err[1024];

	(void)state;
	if (!ex)
		skip();
	md9_config_defaults(&c);
	md9_config_defaults(&d);
	assert_int_equal(load_capture(&c, ex, false, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_memory_equal(&c, &d, sizeof(c));
}

/* Each invalid value: md9_config_load fails with "FILE:LINE: key: reason". */
static void test_invalid_values(void **state)
{
	static const struct {
		const char *line;
		const char *why;
	} bad[] = {
	    {"transport = pci", "transport must be uio or sim:PATH"},
	    {"backend = http://x", NULL},
	    {"backend = tcp:127.0.0.1", NULL},
	    {"security = none", "security must be auto, tls, rdp or passthrough"},
	    {"tls_pin = 12:34", "tls_pin must be a SHA-256 fingerprint"},
	    {"log_level = verbose", "log_level must be debug, info, warning or error"},
	    {"max_sessions = 0", "max_sessions must be 1-64"},
	    {"max_sessions = 65", "max_sessions must be 1-64"},
	    {"max_sessions = 8x", "max_sessions must be 1-64"},
	    {"max_sessions = -1", "max_sessions must be 1-64"},
	    {"max_sessions = +7", "max_sessions must be 1-64"},
	    {"max_sessions = 0x10", "max_sessions must be 1-64"},
	    {"max_sessions = 1 6", "max_sessions must be 1-64"},
	    {"backend = tcp:127.0.0.1: 3389", "tcp backend needs a host and a port 1-65535"},
	    {"negotiate_timeout_ms = 99", "negotiate_timeout_ms must be 100-600000"},
	    {"drain_timeout_ms = 60001", "drain_timeout_ms must be 0-60000"},
	    {"relay_budget = 16383", "relay_budget must be 16384-67108864 bytes"},
	    {"status_socket = /run/md9/a-path-that-is-far-too-long-for-a-unix-socket-"
	     "address-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	     "status_socket too long (at most 107 bytes)"},
	    {"user = a-user-name-longer-than-sixty-three-characters-is-not-a-user-name-at-all",
	     "user too long (at most 63 bytes)"},
	    {"colour = blue", "unknown setting"},
	};
	char text[512], expect[400], err[2048];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct md9_config c, before;
		const char *p;
		char key[64];

		/* the bad line is line 4 */
		snprintf(text, sizeof(text),
		         "# md9\n[md9]\nbackend = tcp:127.0.0.1:3390\n%s\n"
		         "security = rdp\n",
		         bad[i].line);
		p = tmpdir_put_text("bad.conf", text);
		md9_config_defaults(&c);
		before = c;
		assert_int_equal(load_capture(&c, p, false, err, sizeof(err)), -1);
		/* nothing of the file is applied, not even the good lines */
		assert_memory_equal(&c, &before, sizeof(c));
		snprintf(key, sizeof(key), "%.*s", (int)strcspn(bad[i].line, " ="), bad[i].line);
		snprintf(expect, sizeof(expect), "%s:4: %s: ", p, key);
		if (!strstr(err, expect))
			fail_msg("'%s': expected '%s' in: %s", bad[i].line, expect, err);
		if (bad[i].why && !strstr(err, bad[i].why))
			fail_msg("'%s': expected '%s' in: %s", bad[i].line, bad[i].why, err);
		assert_non_null(strstr(err, "error: "));
	}
}

static void test_syntax_and_sections(void **state)
{
	struct md9_config c;
	char err[1024], expect[300];
	const char *p;

	(void)state;
	md9_config_defaults(&c);
	p = tmpdir_put_text("syntax.conf", "[md9]\nsecurity = rdp\nthis line has no equals sign\n");
	assert_int_equal(load_capture(&c, p, false, err, sizeof(err)), -1);
	snprintf(expect, sizeof(expect), "%s:3: syntax error", p);
	assert_non_null(strstr(err, expect));
	assert_int_equal(c.security, MD9_SEC_AUTO);

	p = tmpdir_put_text("section.conf", "[md9]\nsecurity = rdp\n\n[xrdp]\nport = 3389\n");
	assert_int_equal(load_capture(&c, p, false, err, sizeof(err)), -1);
	snprintf(expect, sizeof(expect), "%s:5: port: unknown section", p);
	assert_non_null(strstr(err, expect));

	/* Only the first error is reported, with its line. */
	p = tmpdir_put_text("two.conf", "security = bad\nmax_sessions = 0\n");
	assert_int_equal(load_capture(&c, p, false, err, sizeof(err)), -1);
	snprintf(expect, sizeof(expect), "%s:1: security: ", p);
	assert_non_null(strstr(err, expect));
	assert_null(strstr(err, "max_sessions"));
}

/* SIGHUP: reload() builds a fresh configuration and loads the file over it;
 * on error the running one stays. Here: a good file A, then A edited into a
 * bad one: the configuration loaded from A is untouched; then a good edit
 * takes effect. */
static void test_reload_keeps_old_on_error(void **state)
{
	struct md9_config running, next, snapshot;
	char err[1024], expect[300];
	const char *p;

	(void)state;
	p = tmpdir_put_text("reload.conf", "[md9]\nbackend = tcp:127.0.0.1:4000\nsecurity = tls\n");
	md9_config_defaults(&running);
	assert_int_equal(load_capture(&running, p, false, err, sizeof(err)), 0);
	assert_string_equal(running.backend.spec, "tcp:127.0.0.1:4000");
	snapshot = running;

	/* the administrator breaks line 3 */
	p = tmpdir_put_text("reload.conf",
	                    "[md9]\nbackend = tcp:127.0.0.1:5000\nsecurity = maybe\n");
	md9_config_defaults(&next);
	if (load_capture(&next, p, false, err, sizeof(err)) == 0)
		running = next; /* what reload() does on success */
	snprintf(expect, sizeof(expect), "%s:3: security: ", p);
	assert_non_null(strstr(err, expect));
	assert_memory_equal(&running, &snapshot, sizeof(running));
	assert_string_equal(running.backend.spec, "tcp:127.0.0.1:4000");

	/* loading the bad file over the running configuration directly
	 * leaves it untouched too */
	assert_int_equal(load_capture(&running, p, false, err, sizeof(err)), -1);
	assert_memory_equal(&running, &snapshot, sizeof(running));

	/* fixed: the new backend takes effect */
	p = tmpdir_put_text("reload.conf", "[md9]\nbackend = tcp:127.0.0.1:5000\nsecurity = rdp\n");
	md9_config_defaults(&next);
	assert_int_equal(load_capture(&next, p, false, err, sizeof(err)), 0);
	running = next;
	assert_string_equal(running.backend.spec, "tcp:127.0.0.1:5000");
	assert_int_equal(running.security, MD9_SEC_RDP);
}

/* md9_config_set: the flags' path (md9 run --backend ...). */
static void test_set(void **state)
{
	struct md9_config c;
	const char *why = NULL;

	(void)state;
	md9_config_defaults(&c);
	assert_int_equal(md9_config_set(&c, "backend", "tcp:10.0.0.1:3389", &why), 0);
	assert_string_equal(c.backend.host, "10.0.0.1");
	assert_int_equal(md9_config_set(&c, "max_sessions", "99", &why), -1);
	assert_string_equal(why, "max_sessions must be 1-64");
	assert_int_equal(md9_config_set(&c, "nope", "1", &why), -1);
	assert_string_equal(why, "unknown setting");
	assert_int_equal(c.max_sessions, 16);
}

/* A whole file into a malloc'ed string (test helper). */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t cap = 0, len = 0, n;

	if (!f)
		fail_msg("%s: cannot open", path);
	do {
		if (cap - len < 4096) {
			cap += 65536;
			text = realloc(text, cap);
			assert_non_null(text);
		}
		n = fread(text + len, 1, cap - len - 1, f);
		len += n;
	} while (n);
	fclose(f);
	text[len] = '\0';
	return text;
}

/* packaging/md9.conf (installed as /etc/md9/md9.conf, and what md9 setup
 * writes) is exactly what the settings table generates. */
static void test_example_is_template(void **state)
{
	const char *ex = getenv("MD9_EXAMPLE_CONF");
	char *file, *gen;
	size_t line = 1, i = 0, start = 0;

	(void)state;
	if (!ex)
		skip();
	file = slurp(ex);
	gen = md9_config_template_text();
	assert_non_null(gen);
	for (; file[i] && file[i] == gen[i]; i++) {
		if (file[i] == '\n') {
			line++;
			start = i + 1;
		}
	}
	if (file[i] || gen[i])
		fail_msg("%s differs from the settings table (src/ops/config.c) at line %zu:\n"
		         "  file:  %.*s\n  table: %.*s\n"
		         "regenerate it: cmake --build BUILD --target md9.conf",
		         ex, line, (int)strcspn(file + start, "\n"), file + start,
		         (int)strcspn(gen + start, "\n"), gen + start);
	free(file);
	free(gen);
}

/* man/md9.conf.5 documents every key of the table with its default, and no
 * key the table does not have. */
static void test_man_documents_every_key(void **state)
{
	const char *man_path = getenv("MD9_MAN_CONF");
	char *man, want[256];

	(void)state;
	if (!man_path)
		skip();
	man = slurp(man_path);
	/* roff's "\-" is a plain '-' */
	for (char *r = man, *w = man;; r++) {
		if (r[0] == '\\' && r[1] == '-')
			r++;
		if (!(*w++ = *r))
			break;
	}
	for (size_t i = 0; i < md9_config_nsettings; i++) {
		const struct md9_setting *s = &md9_config_settings[i];

		if (s->def[0])
			snprintf(want, sizeof(want), "\n.BR %s \" = \" %s\n", s->key, s->def);
		else
			snprintf(want, sizeof(want), "\n.BR %s \" =\"\n", s->key);
		if (!strstr(man, want))
			fail_msg("%s: no line '%.*s' documenting %s", man_path,
			         (int)strlen(want) - 2, want + 1, s->key);
	}
	for (const char *p = man; (p = strstr(p, "\n.BR ")); p++) {
		char key[64];
		const char *q = p + 5;
		size_t n = strcspn(q, " \n");

		if (strncmp(q + n, " \" =", 4) != 0)
			continue;
		snprintf(key, sizeof(key), "%.*s", (int)n, q);
		if (!md9_config_setting(key))
			fail_msg("%s documents '%s', which is not a setting", man_path, key);
	}
	free(man);
}

/* The table itself: every default is accepted (md9_config_defaults would
 * abort otherwise), options and letters are unique, every row documented. */
static void test_table(void **state)
{
	struct md9_config c;
	char buf[200];
	const char *why;

	(void)state;
	md9_config_defaults(&c);
	for (size_t i = 0; i < md9_config_nsettings; i++) {
		const struct md9_setting *s = &md9_config_settings[i];

		assert_non_null(s->doc);
		assert_non_null(s->arg);
		assert_true(md9_config_setting(s->key) == s);
		assert_true(md9_config_setting_by_option(md9_config_option_name(s)) == s);
		assert_null(strchr(md9_config_option_name(s), '_'));
		assert_int_equal(md9_config_set(&c, s->key, s->def, &why), 0);
		assert_non_null(md9_config_describe(s, buf, sizeof(buf)));
		assert_non_null(strstr(buf, s->def));
		for (size_t j = 0; j < i; j++)
			assert_false(s->short_opt &&
			             s->short_opt == md9_config_settings[j].short_opt);
	}
	assert_null(md9_config_setting_by_option("max_sessions")); /* options use '-' */
	assert_string_equal(
	    md9_config_describe(md9_config_setting("max_sessions"), buf, sizeof(buf)),
	    "1-64, default 16");
	assert_string_equal(md9_config_describe(md9_config_setting("security"), buf, sizeof(buf)),
	                    "auto, tls, rdp or passthrough; default auto");
}

/* Numbers are digits only; a unix backend path is absolute (issue 15, point 8). */
static void test_strict_values(void **state)
{
	static const char *const bad[][2] = {
	    {"max_sessions", "+7"},       {"max_sessions", " 7"},
	    {"max_sessions", "-1"},       {"max_sessions", "7 "},
	    {"relay_budget", "+65536"},   {"negotiate_timeout_ms", "0x100"},
	    {"backend", "tcp:h: 3389"},   {"backend", "tcp:h:+3389"},
	    {"backend", "tcp:h:-1"},      {"backend", "unix:relative/x.sock"},
	    {"backend", "vsock:+2:3389"}, {"allow_root", "maybe"},
	};
	struct md9_config c;
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		md9_config_defaults(&c);
		why = NULL;
		if (md9_config_set(&c, bad[i][0], bad[i][1], &why) != -1)
			fail_msg("%s = '%s' was accepted", bad[i][0], bad[i][1]);
		assert_non_null(why);
	}
	md9_config_defaults(&c);
	assert_int_equal(md9_config_set(&c, "backend", "unix:/run/xrdp/xrdp.sock", &why), 0);
	assert_int_equal(md9_config_set(&c, "max_sessions", "07", &why), 0);
	assert_int_equal(c.max_sessions, 7);
}

/* md9_config_finish: contradicting settings refused with one line. */
static void test_finish(void **state)
{
	struct md9_config c;
	const char *why;
	char reason[400];

	(void)state;
	static const char pin[] =
	    "sha256:0000000000000000000000000000000000000000000000000000000000000000";
	static const char *const no_tls[] = {"rdp", "passthrough"};
	for (size_t i = 0; i < 2; i++) {
		md9_config_defaults(&c);
		assert_int_equal(md9_config_set(&c, "tls_pin", pin, &why), 0);
		assert_int_equal(md9_config_set(&c, "security", no_tls[i], &why), 0);
		assert_int_equal(md9_config_finish(&c, reason, sizeof(reason)), -1);
		assert_non_null(strstr(reason, "tls_pin needs TLS to the server"));
		assert_null(strchr(reason, '\n'));
		/* the hint names only modes that honour the pin */
		assert_null(strstr(reason, "rdp or"));
	}
	static const char *const with_tls[] = {"tls", "auto"};
	for (size_t i = 0; i < 2; i++) {
		md9_config_defaults(&c);
		assert_int_equal(md9_config_set(&c, "tls_pin", pin, &why), 0);
		assert_int_equal(md9_config_set(&c, "security", with_tls[i], &why), 0);
		assert_int_equal(md9_config_finish(&c, reason, sizeof(reason)), 0);
	}
	md9_config_defaults(&c);
	assert_int_equal(md9_config_set(&c, "backend", "vsock:1:3389", &why), 0);
	assert_int_equal(md9_config_finish(&c, reason, sizeof(reason)), -1);
	assert_non_null(strstr(reason, "vsock port above 1023"));
	assert_int_equal(md9_config_set(&c, "backend", "vsock:1:1023", &why), 0);
	assert_int_equal(md9_config_finish(&c, reason, sizeof(reason)), 0);

	md9_config_defaults(&c);
	assert_int_equal(md9_config_set(&c, "server_user", "no-such-user-md9-test", &why), 0);
	assert_int_equal(md9_config_finish(&c, reason, sizeof(reason)), -1);
	assert_string_equal(reason, "server_user: no such user: no-such-user-md9-test");
	assert_int_equal(md9_config_set(&c, "server_user", "root", &why), 0);
	assert_int_equal(md9_config_finish(&c, reason, sizeof(reason)), 0);
	assert_true(c.peer.has_user);
	assert_int_equal(c.peer.uid, 0);

	/* the host is looked up at load, and a DNS failure says so */
	md9_config_defaults(&c);
	assert_int_equal(md9_config_set(&c, "backend", "tcp:no-such-host.invalid:3389", &why), 0);
	assert_int_equal(md9_config_finish(&c, reason, sizeof(reason)), -1);
	assert_non_null(strstr(reason, "cannot resolve no-such-host.invalid"));
	assert_null(strstr(reason, "No route to host"));
	md9_config_defaults(&c);
	assert_int_equal(md9_config_finish(&c, reason, sizeof(reason)), 0);
	assert_int_equal(c.backend.family, AF_INET);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_missing_file),
	    cmocka_unit_test(test_every_key),
	    cmocka_unit_test(test_example_is_defaults),
	    cmocka_unit_test(test_invalid_values),
	    cmocka_unit_test(test_syntax_and_sections),
	    cmocka_unit_test(test_reload_keeps_old_on_error),
	    cmocka_unit_test(test_set),
	    cmocka_unit_test(test_example_is_template),
	    cmocka_unit_test(test_man_documents_every_key),
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_strict_values),
	    cmocka_unit_test(test_finish),
	};

	return cmocka_run_group_tests(tests, setup_dir, tmpdir_teardown);
}
