/* For fuzzers of parsers that want a whole TPKT-framed PDU: most mutated
 * inputs fail the TPKT header check (version 3, length == size, T.123) and
 * never reach the parser behind it. */
#ifndef MD9_FUZZ_TPKT_H
#define MD9_FUZZ_TPKT_H

#include <stddef.h>
#include <stdint.h>

/* run(data, size) as given, then, when 4 <= size <= 65535, on a heap copy
 * whose first 4 bytes are a TPKT header matching size (version 3, reserved
 * 0, big-endian length), so that mutations reach the parsers behind it. */
void fuzz_tpkt_run_both(const uint8_t *data, size_t size,
                        void (*run)(const uint8_t *data, size_t size));

#endif
