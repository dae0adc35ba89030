/* The fuzzers' invariant check: a violation aborts, which libFuzzer reports
 * as a crash with the input that caused it. Unlike assert(), never compiled
 * out. */
#ifndef MD9_FUZZ_CHECK_H
#define MD9_FUZZ_CHECK_H

#include <stdlib.h>

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			abort();                                                                   \
	} while (0)

#endif
