/* Runs a fuzz input as given and behind a matching TPKT header (fuzz_tpkt.h). */
#include "fuzz_tpkt.h"

#include "fuzz_check.h"

#include <stdlib.h>
#include <string.h>

void fuzz_tpkt_run_both(const uint8_t *data, size_t size,
                        void (*run)(const uint8_t *data, size_t size))
{
	run(data, size);
	if (size >= 4 && size <= 65535) {
		uint8_t *fixed = malloc(size);
		CHECK(fixed);
		memcpy(fixed, data, size);
		fixed[0] = 3;
		fixed[1] = 0;
		fixed[2] = (uint8_t)(size >> 8);
		fixed[3] = (uint8_t)size;
		run(fixed, size);
		free(fixed);
	}
}
