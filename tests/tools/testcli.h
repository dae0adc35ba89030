/* The command line and the output lines md9-testclient and md9-testserver
 * share: the same options read the same way, result lines written whole. */
#ifndef MD9_TESTCLI_H
#define MD9_TESTCLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* --mode: what the server sends back (md9-testcommon.h, data mode). */
enum testcli_mode { TESTCLI_SINK_SOURCE, TESTCLI_ECHO };

/* Sessions run in threads: one whole line at a time on stdout, flushed at
 * once (the tests read the lines while the tool runs). */
void testcli_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* How testcli_parse reads an option's value into `to`; the conversions
 * are the C library's, as lax as it is (the tests pass good values). */
enum testcli_kind {
	TESTCLI_FLAG,      /* bool: true, no value */
	TESTCLI_STRING,    /* const char *: the argument itself */
	TESTCLI_INT,       /* int: atoi */
	TESTCLI_UNSIGNED,  /* unsigned: strtoul(s, NULL, 0) */
	TESTCLI_U64,       /* uint64_t: strtoull(s, NULL, 0) */
	TESTCLI_U64_INF,   /* uint64_t: "inf" is UINT64_MAX, else as TESTCLI_U64 */
	TESTCLI_SECONDS,   /* double: strtod */
	TESTCLI_MODE,      /* enum testcli_mode: echo|sink-source, else a bad command line */
	TESTCLI_MAX_CHUNK, /* size_t: 1..16 MiB, else one line on stderr and exit 2 */
};

struct testcli_option {
	const char *name; /* --name */
	enum testcli_kind kind;
	void *to;
	bool *given; /* NULL, or set true when the option is given */
};

/* getopt_long over argv with opts[0..n-1] and --help/-h: -1 when the whole
 * command line was read, else the exit status main returns (usage() on
 * stdout and 0 for --help; usage() on stderr and 2 for an unknown option,
 * a missing value or a bad --mode; 2 for a bad --max-chunk). */
int testcli_parse(int argc, char **argv, const struct testcli_option *opts, size_t n,
                  void (*usage)(FILE *f));

/* The exit status main returns after usage(): 0 for --help (on stdout), 2
 * for a bad command line (on stderr). */
int testcli_usage(void (*usage)(FILE *f), bool help);

/* The verified= field of a result line: "yes" or "no(mismatch at OFFSET)". */
void testcli_verified(char *out, size_t size, bool verified, uint64_t mismatch_at);

#endif
