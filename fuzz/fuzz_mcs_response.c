/* libFuzzer target: the server's MCS Connect-Response parser
 * (mcs_parse_connect_response), what md9 reads before the host may depend on
 * the server. The input is run twice: as given, and with its first 4 bytes
 * replaced by a TPKT header matching the input size, so that mutations reach
 * the BER/PER/server-block parsers. Each run works on an exact-size heap copy,
 * so any read past len is an ASan report; the parser must not write. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "fuzz_tpkt.h"
#include "mcs.h"

static void run(const uint8_t *data, size_t size)
{
	uint8_t *pdu = malloc(size ? size : 1);
	struct mcs_connect_response r;
	const char *why = NULL;

	CHECK(pdu);
	memcpy(pdu, data, size);
	int p = mcs_parse_connect_response(pdu, size, &r, &why);
	CHECK(p == 1 || (p == -1 && why && *why));
	if (p == 1) {
		CHECK(mcs_is_connect_response(pdu, size) == 1);
		CHECK(r.blocks_off + r.blocks_len <= size);
		if (r.result == 0) {
			CHECK(r.has_security && r.block_count >= 1);
			CHECK(r.blocks_off >= 9);
			CHECK((size_t)r.server_random_len + r.server_cert_len <= r.blocks_len);
			CHECK(mcs_encryption_method_name(r.encryption_method) != NULL);
			CHECK(mcs_encryption_level_name(r.encryption_level) != NULL);
		}
	}
	CHECK(memcmp(pdu, data, size) == 0);
	free(pdu);
}

/* libFuzzer entry point; declared here as libFuzzer ships no header. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_tpkt_run_both(data, size, run);
	return 0;
}
