/* The status socket (src/relay/status.c, src/ops/status_query.c): the text
 * and JSON answers (JSON by jansson) for a snapshot with two sessions, and
 * the server itself on a real epoll loop: one request per connection, bad
 * requests, idle clients timed out, the client limit, the socket's mode, a
 * stale socket replaced and a live one left alone. */
#include "evloop.h"
#include "log.h"
#include "status.h"
#include "status_query.h"
#include "timespec.h"

#include "tmpdir_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* A daemon with one session in the relay and one still negotiating. */
struct fake {
	struct status_snapshot snap;
	struct status_session s[2];
	struct ev_loop *loop;
};

static void fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	f->snap.transport = "sim:/tmp/with \"quotes\"\n";
	f->snap.server = "tcp:127.0.0.1:3389";
	f->snap.security = "auto";
	f->snap.max_sessions = 16;
	f->snap.ctrl = CTRL_READY;
	f->snap.ctrl_offered = true;
	f->snap.host_version = 1;
	f->snap.sessions_total = 7;
	for (int i = 0; i < 2; i++) {
		md9_guid_data_instance((unsigned)i, &f->s[i].instance);
		f->s[i].id = (uint64_t)(6 + i);
		f->s[i].age_s = 3.25;
	}
	f->s[0].state = "relaying";
	f->s[0].mode = "auto";
	f->s[0].selected = "SSL";
	/* as a session fills them: coarse (md9_status_counters) */
	f->s[0].bytes_h2s = 0;
	f->s[0].bytes_s2h = 3 * 65536;
	f->s[1].state = "negotiating";
	f->s[1].mode = "rdp";
	f->snap.sessions = f->s;
	f->snap.nsessions = 2;
}

static void fake_snapshot(void *arg, struct status_snapshot *out)
{
	struct fake *f = arg;

	*out = f->snap;
}

/* Counters move in 64 KiB steps and at most every 4 s: polling them must
 * not show when a key was typed (status.c STATUS_COUNTER_UNIT/PERIOD). */
static void test_coarse_counters(void **state)
{
	struct status_counters c = {0};
	struct timespec now = timespec_now();

	(void)state;
	md9_status_counters(&c, 65535, 65536, &now);
	assert_int_equal(c.h2s, 0);
	assert_int_equal(c.s2h, 65536);
	/* a keystroke's worth and then a megabyte later, within the period: unchanged */
	md9_status_counters(&c, 65535 + 40, 65536 + (1u << 20), &now);
	assert_int_equal(c.h2s, 0);
	assert_int_equal(c.s2h, 65536);
	/* the period over: the new totals, still rounded down */
	now.tv_sec += 4;
	md9_status_counters(&c, 65535 + 40, 65536 + (1u << 20), &now);
	assert_int_equal(c.h2s, 65536);
	assert_int_equal(c.s2h, 1114112);
}

static void test_format(void **state)
{
	struct fake f;
	size_t len;
	char *t;

	(void)state;
	fake_init(&f);
	t = md9_status_format(&f.snap, 42.0, false, &len);
	assert_non_null(t);
	assert_int_equal(strlen(t), len);
	assert_non_null(strstr(t, "control channel: ready, host protocol 1.0\n"));
	assert_non_null(strstr(t, "sessions: 2 open, 7 since start, max 16\n"));
	assert_non_null(strstr(t, "session 6: channel 99221fa1-24ad-11e2-be98-001aa01bbf6e, "
	                          "relaying, age 3 s"));
	assert_non_null(strstr(t, "0 KiB host->server, 192 KiB server->host, mode auto, "
	                          "server selected SSL\n"));
	assert_non_null(strstr(t, "session 7: channel 99221fa2-24ad-11e2-be98-001aa01bbf6e, "
	                          "negotiating"));
	assert_non_null(strstr(t, "mode rdp, server selected (not yet)\n"));
	free(t);

	t = md9_status_format(&f.snap, 42.0, true, &len);
	assert_non_null(t);
	assert_non_null(strstr(t, "\"transport\":\"sim:/tmp/with \\\"quotes\\\"\\n\""));
	assert_non_null(strstr(t, "\"control\":{\"state\":\"ready\",\"offered\":true,"
	                          "\"failures\":0,\"host_version\":\"1.0\"}"));
	assert_non_null(strstr(t, "\"sessions_open\":2,\"sessions_total\":7"));
	assert_non_null(strstr(t, "{\"id\":6,\"instance\":\"99221fa1-24ad-11e2-be98-001aa01bbf6e\","
	                          "\"state\":\"relaying\",\"age_s\":3,"));
	assert_non_null(
	    strstr(t, "\"bytes_host_to_server\":0,\"bytes_server_to_host\":196608,"
	              "\"mode\":\"auto\",\"selected_protocol\":\"SSL\",\"refused\":false}"));
	assert_non_null(strstr(t, "\"mode\":\"rdp\",\"selected_protocol\":null"));
	assert_int_equal(t[len - 1], '\n');
	assert_int_equal(t[len - 2], '}');
	free(t);

	/* no control channel, no session */
	f.snap.ctrl = CTRL_WAIT_OFFER;
	f.snap.ctrl_offered = false;
	f.snap.sessions = NULL;
	f.snap.nsessions = 0;
	t = md9_status_format(&f.snap, 1.0, false, &len);
	assert_non_null(strstr(t, "control channel: waiting-for-offer (the host has not offered"));
	assert_non_null(strstr(t, "sessions: 0 open"));
	free(t);
	t = md9_status_format(&f.snap, 1.0, true, &len);
	assert_non_null(strstr(t, "\"host_version\":null"));
	assert_non_null(strstr(t, "\"sessions\":[]}"));
	free(t);
	/* offered, but its uio device not ready yet (K7): the reason, as the
	 * control channel's wait recorded it */
	f.snap.ctrl = CTRL_WAIT_READY;
	f.snap.ctrl_offered = true;
	f.snap.ctrl_why = "/dev/uio3: permission denied: the node is not md9's yet";
	t = md9_status_format(&f.snap, 1.0, false, &len);
	assert_non_null(strstr(t, "control channel: waiting-for-device (offered; its uio device is "
	                          "not ready: /dev/uio3: permission denied: the node is not "
	                          "md9's yet)\n"));
	free(t);
	t = md9_status_format(&f.snap, 1.0, true, &len);
	assert_non_null(strstr(t, "\"control\":{\"state\":\"waiting-for-device\","));
	free(t);
}

/* The JSON answer is JSON whatever md9.conf holds: quotes, backslashes and
 * control characters come back as they were; a value that is not UTF-8
 * comes back with its bytes above 0x7f as '?'. */
static void test_format_json_strings(void **state)
{
	static const char *const awkward[] = {
	    "sim:/a\"b\\c\nd\re\tf\x01g\x1fh\x7f",
	    "sim:/caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
	    "",
	};
	struct fake f;
	json_error_t err;
	json_t *j;
	size_t len;
	char *t;

	(void)state;
	fake_init(&f);
	for (size_t i = 0; i < sizeof(awkward) / sizeof(awkward[0]); i++) {
		f.snap.transport = awkward[i];
		t = md9_status_format(&f.snap, 12.3456, true, &len);
		assert_non_null(t);
		j = json_loadb(t, len, 0, &err);
		assert_non_null(j);
		assert_string_equal(json_string_value(json_object_get(j, "transport")), awkward[i]);
		assert_true(json_real_value(json_object_get(j, "uptime_s")) == 12.346);
		assert_int_equal(json_array_size(json_object_get(j, "sessions")), 2);
		json_decref(j);
		free(t);
	}
	f.snap.transport = "sim:/x\xff"
	                   "y\xc3"
	                   "z\xc0\xaf";
	t = md9_status_format(&f.snap, 1.0, true, &len);
	j = json_loadb(t, len, 0, &err);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "transport")), "sim:/x?y?z??");
	json_decref(j);
	free(t);
}

/* ---- the server on a real loop ---- */

struct client {
	const char *path;
	bool json;
	int rc;
	char *answer;
	volatile bool done;
};

static void *client_main(void *arg)
{
	struct client *c = arg;

	c->rc = md9_status_query_buf(c->path, c->json, 3000, &c->answer);
	c->done = true;
	return NULL;
}

static void run_until(struct ev_loop *l, volatile bool *flag, int ms)
{
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!*flag) {
		ev_run_once(l, 20);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 >
		    ms)
			fail_msg("timed out");
	}
}

static void ask(struct ev_loop *l, const char *path, bool json, struct client *c)
{
	pthread_t t;

	memset(c, 0, sizeof(*c));
	c->path = path;
	c->json = json;
	assert_int_equal(pthread_create(&t, NULL, client_main, c), 0);
	run_until(l, &c->done, 5000);
	pthread_join(t, NULL);
}

static int raw_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(sa.sun_path, path);
	assert_true(fd >= 0);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Run the loop until fd has an answer or EOF; returns bytes read (0: EOF). */
static ssize_t read_reply(struct ev_loop *l, int fd, char *buf, size_t cap, int ms)
{
	struct timeval tv = {0, 20000};
	ssize_t n;
	int waited = 0;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (;;) {
		ev_run_once(l, 10);
		n = recv(fd, buf, cap - 1, 0);
		if (n >= 0) {
			buf[n] = '\0';
			return n;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		waited += 30;
		if (waited > ms)
			fail_msg("no reply within %d ms", ms);
	}
}

static void test_server(void **state)
{
	struct fake f;
	struct md9_status *st;
	struct client c;
	char path[200], buf[4096];
	struct stat sb;
	int fds[STATUS_MAX_CLIENTS], extra;

	(void)state;
	fake_init(&f);
	f.loop = ev_loop_new();
	assert_non_null(f.loop);
	snprintf(path, sizeof(path), "%s/status.sock", tmpdir_path);
	st = md9_status_start(f.loop, path, "md9-status", fake_snapshot, &f);
	assert_non_null(st);
	assert_int_equal(stat(path, &sb), 0);
	assert_true(S_ISSOCK(sb.st_mode));
	assert_int_equal(sb.st_mode & 0777, 0660);

	ask(f.loop, path, false, &c);
	assert_int_equal(c.rc, 0);
	assert_non_null(strstr(c.answer, "control channel: ready, host protocol 1.0"));
	free(c.answer);
	ask(f.loop, path, true, &c);
	assert_int_equal(c.rc, 0);
	assert_non_null(strstr(c.answer, "\"sessions_open\":2"));
	free(c.answer);

	/* An unknown request gets an error line, then the connection closes. */
	{
		int fd = raw_connect(path);
		assert_true(fd >= 0);
		assert_int_equal(send(fd, "hello\n", 6, 0), 6);
		assert_true(read_reply(f.loop, fd, buf, sizeof(buf), 2000) > 0);
		assert_non_null(strstr(buf, "error: unknown request"));
		assert_int_equal(read_reply(f.loop, fd, buf, sizeof(buf), 2000), 0);
		close(fd);
	}
	/* A client that shuts its side without a newline gets the text answer. */
	{
		int fd = raw_connect(path);
		assert_true(fd >= 0);
		assert_int_equal(send(fd, "status", 6, 0), 6);
		shutdown(fd, SHUT_WR);
		assert_true(read_reply(f.loop, fd, buf, sizeof(buf), 2000) > 0);
		assert_non_null(strstr(buf, "md9 "));
		close(fd);
	}
	/* A request longer than the limit is answered as what it is: unknown. */
	{
		char big[STATUS_MAX_REQUEST * 2];
		int fd = raw_connect(path);
		memset(big, 'x', sizeof(big));
		assert_int_equal(send(fd, big, sizeof(big), 0), (ssize_t)sizeof(big));
		assert_true(read_reply(f.loop, fd, buf, sizeof(buf), 2000) > 0);
		assert_non_null(strstr(buf, "error: unknown request"));
		close(fd);
	}
	/* STATUS_MAX_CLIENTS idle clients: one more is refused at once; the
	 * idle ones are closed after STATUS_TIMEOUT_MS. */
	for (int i = 0; i < STATUS_MAX_CLIENTS; i++) {
		fds[i] = raw_connect(path);
		assert_true(fds[i] >= 0);
		ev_run_once(f.loop, 10);
	}
	extra = raw_connect(path);
	assert_true(extra >= 0);
	assert_int_equal(read_reply(f.loop, extra, buf, sizeof(buf), 1000), 0);
	close(extra);
	for (int i = 0; i < STATUS_MAX_CLIENTS; i++) {
		assert_int_equal(
		    read_reply(f.loop, fds[i], buf, sizeof(buf), STATUS_TIMEOUT_MS + 2000), 0);
		close(fds[i]);
	}
	/* and the server still answers */
	ask(f.loop, path, false, &c);
	assert_int_equal(c.rc, 0);
	free(c.answer);

	/* A second md9 does not take a live socket away. */
	{
		struct fake g;
		fake_init(&g);
		g.loop = ev_loop_new();
		assert_null(md9_status_start(g.loop, path, "md9-status", fake_snapshot, &g));
		ev_loop_free(g.loop);
	}
	md9_status_stop(st);
	assert_int_equal(access(path, F_OK), -1); /* removed */
	assert_int_equal(md9_status_query_buf(path, false, 500, &c.answer), -ENOENT);

	/* A stale socket (nobody listening) is replaced. */
	{
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		strcpy(sa.sun_path, path);
		assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		close(fd);
		assert_int_equal(md9_status_query_buf(path, false, 500, &c.answer), -ECONNREFUSED);
		st = md9_status_start(f.loop, path, "md9-status", fake_snapshot, &f);
		assert_non_null(st);
		ask(f.loop, path, false, &c);
		assert_int_equal(c.rc, 0);
		free(c.answer);
		md9_status_stop(st);
	}
	/* Something else at the path is left alone. */
	{
		FILE *x = fopen(path, "w");
		fclose(x);
		assert_null(md9_status_start(f.loop, path, "md9-status", fake_snapshot, &f));
		unlink(path);
	}
	ev_loop_free(f.loop);
}

static int setup_dir(void **state)
{
	md9_log_init("test_status", MD9_LOG_ERR);
	return tmpdir_setup(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_format),
	    cmocka_unit_test(test_format_json_strings),
	    cmocka_unit_test(test_coarse_counters),
	    cmocka_unit_test(test_server),
	};

	return cmocka_run_group_tests(tests, setup_dir, tmpdir_teardown);
}
