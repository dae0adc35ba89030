/* What md9 setup's steps share (setup_tools.h). */
#include "setup_tools.h"

#include "fsutil.h"
#include "path.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

const char *setup_tools_path(const struct setup *s, char *buf, size_t n, const char *abs)
{
	return md9_path_join(buf, n, s->root, abs);
}

bool setup_tools_exists(const char *p)
{
	return access(p, F_OK) == 0;
}

void setup_tools_say(struct setup *s, const char *verb, const char *fmt, ...)
{
	bool change = strcmp(verb, "ok") != 0 && strcmp(verb, "note") != 0 &&
	              strcmp(verb, "FAILED") != 0 && strcmp(verb, "skip") != 0;
	va_list ap;

	va_start(ap, fmt);
	setup_report_vsay(&s->rep, change, verb, fmt, ap);
	va_end(ap);
}

void setup_tools_failed(struct setup *s, const char *fmt, ...)
{
	va_list ap;

	s->rep.failures++;
	va_start(ap, fmt);
	setup_report_vsay(&s->rep, false, "FAILED", fmt, ap);
	va_end(ap);
}

bool setup_tools_have_prog(const char *name, char *out, size_t cap)
{
	static const char *const dirs[] = {"/usr/sbin", "/usr/bin", "/sbin", "/bin"};

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		md9_path_join(out, cap, dirs[i], name);
		if (access(out, X_OK) == 0)
			return true;
	}
	return false;
}

/* Run argv (argv[0] a full path); its output goes to ours. Exit status, or
 * -errno when it could not run. */
int setup_tools_run(struct setup *s, char *const argv[])
{
	char line[1024] = "";
	pid_t pid;
	int st;

	for (size_t i = 0; argv[i]; i++) {
		size_t l = strlen(line);
		snprintf(line + l, sizeof(line) - l, "%s%s", i ? " " : "", argv[i]);
	}
	setup_tools_say(s, "run", "%s", line);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		dup2(fileno(s->rep.out), STDOUT_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

char *setup_tools_expand_bin(const char *tmpl, const char *bin)
{
	const char *ph = "@MD9_BIN@";
	size_t n = 0, pl = strlen(ph), bl = strlen(bin);
	char *out, *o;

	for (const char *p = strstr(tmpl, ph); p; p = strstr(p + pl, ph))
		n++;
	out = malloc(strlen(tmpl) + n * bl + 1);
	if (!out)
		return NULL;
	o = out;
	for (const char *p = tmpl;;) {
		const char *q = strstr(p, ph);
		if (!q) {
			strcpy(o, p);
			break;
		}
		memcpy(o, p, (size_t)(q - p));
		o += q - p;
		memcpy(o, bin, bl);
		o += bl;
		p = q + pl;
	}
	return out;
}

const char *setup_tools_find_installed(struct setup *s, const char *const *paths, char *buf,
                                       size_t n)
{
	for (; *paths; paths++)
		if (setup_tools_exists(setup_tools_path(s, buf, n, *paths)))
			return *paths;
	return NULL;
}

bool setup_tools_install_unless(struct setup *s, const char *const *packaged, const char *dest,
                                const char *text, mode_t mode, const char *why)
{
	char p[PATH_MAX];
	const char *have = setup_tools_find_installed(s, packaged, p, sizeof(p));
	int err;

	if (have) {
		setup_tools_say(s, "ok", "%s (%s)", have, why);
		return false;
	}
	setup_tools_path(s, p, sizeof(p), dest);
	setup_tools_say(s, "install", "%s: %s", dest, why);
	s->rep.changes++;
	if (s->o->dry_run)
		return true;
	if ((err = md9_fs_write_atomic(p, text, mode)) < 0) {
		setup_tools_failed(s, "writing %s: %s", p, strerror(-err));
		return false;
	}
	return true;
}
