/* The command line and the output lines the two test tools share (testcli.h). */
#include "testcli.h"

#include <getopt.h>
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

static uint64_t testcli_u64_inf(const char *s)
{
	if (strcmp(s, "inf") == 0)
		return UINT64_MAX;
	return strtoull(s, NULL, 0);
}

static bool testcli_mode(const char *s, enum testcli_mode *out)
{
	if (strcmp(s, "echo") == 0)
		*out = TESTCLI_ECHO;
	else if (strcmp(s, "sink-source") == 0)
		*out = TESTCLI_SINK_SOURCE;
	else
		return false;
	return true;
}

/* One option's value into o->to: -1 when read, else the exit status. */
static int testcli_value(const struct testcli_option *o, const char *arg, void (*usage)(FILE *f))
{
	switch (o->kind) {
	case TESTCLI_FLAG:
		*(bool *)o->to = true;
		break;
	case TESTCLI_STRING:
		*(const char **)o->to = arg;
		break;
	case TESTCLI_INT:
		*(int *)o->to = atoi(arg);
		break;
	case TESTCLI_UNSIGNED:
		*(unsigned *)o->to = (unsigned)strtoul(arg, NULL, 0);
		break;
	case TESTCLI_U64:
		*(uint64_t *)o->to = strtoull(arg, NULL, 0);
		break;
	case TESTCLI_U64_INF:
		*(uint64_t *)o->to = testcli_u64_inf(arg);
		break;
	case TESTCLI_SECONDS:
		*(double *)o->to = strtod(arg, NULL);
		break;
	case TESTCLI_MODE:
		if (!testcli_mode(arg, o->to))
			return testcli_usage(usage, false);
		break;
	case TESTCLI_MAX_CHUNK:
		*(size_t *)o->to = strtoul(arg, NULL, 0);
		if (*(size_t *)o->to == 0 || *(size_t *)o->to > (1u << 24)) {
			fprintf(stderr, "--max-chunk: 1..16777216\n");
			return 2;
		}
		break;
	}
	if (o->given)
		*o->given = true;
	return -1;
}

#define TESTCLI_MAX_OPTIONS 32
#define TESTCLI_HELP        'h'
#define TESTCLI_FIRST       256 /* getopt's val for opts[i]: TESTCLI_FIRST + i */

int testcli_parse(int argc, char **argv, const struct testcli_option *opts, size_t n,
                  void (*usage)(FILE *f))
{
	struct option longopts[TESTCLI_MAX_OPTIONS + 2];
	int c;

	if (n > TESTCLI_MAX_OPTIONS) {
		fprintf(stderr, "testcli: more than %d options\n", TESTCLI_MAX_OPTIONS);
		return 2;
	}
	for (size_t i = 0; i < n; i++)
		longopts[i] = (struct option){
		    opts[i].name, opts[i].kind == TESTCLI_FLAG ? no_argument : required_argument,
		    NULL, TESTCLI_FIRST + (int)i};
	longopts[n] = (struct option){"help", no_argument, NULL, TESTCLI_HELP};
	longopts[n + 1] = (struct option){0};
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		int rc;

		if (c == TESTCLI_HELP)
			return testcli_usage(usage, true);
		if (c < TESTCLI_FIRST || c >= TESTCLI_FIRST + (int)n)
			return testcli_usage(usage, false);
		rc = testcli_value(&opts[c - TESTCLI_FIRST], optarg, usage);
		if (rc >= 0)
			return rc;
	}
	return -1;
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
