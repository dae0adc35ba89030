/* libFuzzer target: MCS Connect-Initial parse and serverSelectedProtocol
 * rewrite, Connect-Response detection. The input is run twice: as given, and
 * with its first 4 bytes replaced by a TPKT header matching the input size,
 * so that mutations reach the BER/PER/block parsers. Each run works on an
 * exact-size heap copy, so any read or write past len is an ASan report. */
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
	struct mcs_connect_initial ci;
	const char *why = NULL;
	uint32_t old = 0x12345678;

	CHECK(pdu);
	memcpy(pdu, data, size);
	int p = mcs_parse_connect_initial(pdu, size, &ci, &why);
	CHECK(p == 1 || (p == -1 && why && *why));
	if (p == 1) {
		CHECK(ci.user_data_off + ci.user_data_len <= size);
		CHECK(ci.blocks_off >= ci.user_data_off);
		CHECK(ci.blocks_off + ci.blocks_len <= ci.user_data_off + ci.user_data_len);
		CHECK(ci.core_off >= ci.blocks_off && ci.core_len >= 4);
		CHECK(ci.core_off + ci.core_len <= ci.blocks_off + ci.blocks_len);
		CHECK(ci.block_count >= 1);
	}

	why = NULL;
	int r = mcs_set_server_selected_protocol(pdu, size, 0xA5A5A5A5, &old, &why);
	CHECK(r == (p == 1 ? (ci.core_len >= MCS_CORE_SSP_MIN_LEN ? 1 : 0) : -1));
	CHECK(r == 1 || (why && *why));
	size_t field = p == 1 ? ci.core_off + MCS_CORE_SSP_OFF : 0;
	for (size_t i = 0; i < size; i++) {
		if (r == 1 && i >= field && i < field + 4)
			continue;
		CHECK(pdu[i] == data[i]);
	}
	if (r == 1) {
		CHECK(memcmp(pdu + field, "\xA5\xA5\xA5\xA5", 4) == 0);
		uint32_t back = 0;
		CHECK(mcs_set_server_selected_protocol(pdu, size, old, &back, NULL) == 1);
		CHECK(back == 0xA5A5A5A5);
		CHECK(memcmp(pdu, data, size) == 0);
	} else {
		CHECK(old == 0x12345678);
	}
	(void)mcs_is_connect_response(pdu, size);
	free(pdu);
}

/* libFuzzer entry point; declared here as libFuzzer ships no header. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_tpkt_run_both(data, size, run);
	return 0;
}
