/* The command line and the output lines the two test tools share (testcli.h). */
#include "testcli.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t testcli_out_lock = PTHREAD_MUTEX_INITIALIZER;

void testcli_say(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&testcli_out_lock);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
	pthread_mutex_unlock(&testcli_out_lock);
}

uint64_t testcli_u64(const char *s)
{
	if (strcmp(s, "inf") == 0)
		return UINT64_MAX;
	return strtoull(s, NULL, 0);
}

bool testcli_mode(const char *s, enum testcli_mode *out)
{
	if (strcmp(s, "echo") == 0)
		*out = TESTCLI_ECHO;
	else if (strcmp(s, "sink-source") == 0)
		*out = TESTCLI_SINK_SOURCE;
	else
		return false;
	return true;
}

bool testcli_max_chunk(const char *s, size_t *out)
{
	*out = strtoul(s, NULL, 0);
	if (*out == 0 || *out > (1u << 24)) {
		fprintf(stderr, "--max-chunk: 1..16777216\n");
		return false;
	}
	return true;
}

int testcli_usage(void (*usage)(FILE *f), bool help)
{
	usage(help ? stdout : stderr);
	return help ? 0 : 2;
}

void testcli_verified(char *out, size_t size, bool verified, uint64_t mismatch_at)
{
	if (verified)
		snprintf(out, size, "yes");
	else
		snprintf(out, size, "no(mismatch at %" PRIu64 ")", mismatch_at);
}
