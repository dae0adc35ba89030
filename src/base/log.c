#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *log_prog = "md9";
static enum md9_log_level log_max = MD9_LOG_INFO;
static int log_journal;

static const char *const level_names[] = {[MD9_LOG_ERR] = "error",
                                          [MD9_LOG_WARN] = "warning",
                                          [MD9_LOG_INFO] = "info",
                                          [MD9_LOG_DEBUG] = "debug"};

const char *md9_log_level_name(enum md9_log_level level)
{
	if ((unsigned)level >= sizeof(level_names) / sizeof(level_names[0]) || !level_names[level])
		return "?";
	return level_names[level];
}

static int stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void md9_log_init(const char *prog, enum md9_log_level max_level)
{
	log_prog = prog;
	log_max = max_level;
	log_journal = stderr_is_journal();
}

void md9_log_set_level(enum md9_log_level max_level)
{
	log_max = max_level;
}

enum md9_log_level md9_log_get_level(void)
{
	return log_max;
}

void md9_log(enum md9_log_level level, const char *fmt, ...)
{
	char line[1024];
	int n;
	va_list ap;

	if (level > log_max)
		return;
	if (log_journal) {
		n = snprintf(line, sizeof(line), "<%d>", (int)level);
	} else {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		n = snprintf(line, sizeof(line), "%02d:%02d:%02d.%03ld %s[%d] %s: ", tm.tm_hour,
		             tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, log_prog, (int)getpid(),
		             md9_log_level_name(level));
	}
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < sizeof(line))
		vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	n = (int)strlen(line);
	if (n == sizeof(line) - 1)
		n--;
	line[n++] = '\n';
	/* One write(2) per line so lines from concurrent processes do not interleave. */
	if (write(STDERR_FILENO, line, (size_t)n) < 0) {
		/* nowhere left to report it */
	}
}
