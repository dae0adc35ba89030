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

/* A byte count: "inf" is UINT64_MAX, anything else strtoull(s, NULL, 0). */
uint64_t testcli_u64(const char *s);

/* --mode echo|sink-source into *out; false for any other word. */
bool testcli_mode(const char *s, enum testcli_mode *out);

/* --max-chunk N into *out: false, after one line on stderr, outside 1..16 MiB. */
bool testcli_max_chunk(const char *s, size_t *out);

/* The exit status main returns after usage(): 0 for --help (on stdout), 2
 * for a bad command line (on stderr). */
int testcli_usage(void (*usage)(FILE *f), bool help);

/* The verified= field of a result line: "yes" or "no(mismatch at OFFSET)". */
void testcli_verified(char *out, size_t size, bool verified, uint64_t mismatch_at);

#endif
