/* libFuzzer target: TPKT header, X.224 Connection Request parse + rewrite,
 * Connection Confirm parse. Invariants are checked with abort() so that any
 * violation is reported as a crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "tpkt.h"
#include "x224.h"

static const uint32_t protocols[] = {0, 1, 0x0b, 0x1f, 0xffffffffu};

static void check_rewrite(const uint8_t *data, const struct x224_cr *cr)
{
	uint8_t out[X224_CR_MAX_LEN];
	for (size_t i = 0; i < sizeof(protocols) / sizeof(protocols[0]); i++) {
		uint32_t p = protocols[i];
		size_t out_len = 0;
		const char *why = NULL;
		int r = x224_set_requested_protocols(data, cr->pdu_len, p, out, sizeof(out),
		                                     &out_len, &why);
		bool append = !cr->has_neg_req && p != 0;
		if (r < 0) {
			/* Only possible failure for a valid CR: no room to append. */
			CHECK(why && append && cr->pdu_len + 8 > X224_CR_MAX_LEN);
			continue;
		}
		CHECK(out_len == cr->pdu_len + (append ? 8 : 0));
		struct x224_cr again;
		CHECK(x224_parse_cr(out, out_len, &again, NULL) == 1);
		CHECK(again.pdu_len == out_len);
		CHECK(again.has_cookie == cr->has_cookie);
		CHECK(again.has_routing_token == cr->has_routing_token);
		CHECK(again.has_correlation_info == cr->has_correlation_info);
		CHECK(again.requested_protocols == p);
		CHECK(again.has_neg_req == (cr->has_neg_req || append));
		if (cr->has_neg_req) {
			CHECK(again.neg_req_off == cr->neg_req_off);
			CHECK(again.neg_flags == cr->neg_flags);
			for (size_t k = 0; k < out_len; k++)
				if (k < cr->neg_req_off + 4 || k >= cr->neg_req_off + 8)
					CHECK(out[k] == data[k]);
		} else {
			CHECK(memcmp(out + 5, data + 5, cr->pdu_len - 5) == 0);
		}
	}
}

static void fuzz_cr(const uint8_t *data, size_t size)
{
	struct x224_cr cr;
	const char *why = NULL;
	int r = x224_parse_cr(data, size, &cr, &why);
	CHECK(r >= -1 && r <= 1);
	CHECK(r == 1 || (why && *why));
	if (r != 1)
		return;
	CHECK(cr.pdu_len >= X224_CR_MIN_LEN && cr.pdu_len <= X224_CR_MAX_LEN && cr.pdu_len <= size);
	CHECK(!cr.has_neg_req || cr.neg_req_off + 8 <= cr.pdu_len);
	CHECK(!(cr.has_cookie && cr.has_routing_token));
	CHECK(!cr.has_correlation_info || (cr.neg_flags & X224_NEG_CORRELATION_INFO_PRESENT));
	/* Every proper prefix is "need more". */
	for (size_t k = 0; k < cr.pdu_len; k++)
		CHECK(x224_parse_cr(data, k, &(struct x224_cr){0}, NULL) == 0);
	check_rewrite(data, &cr);
	CHECK(x224_protocol_name(cr.requested_protocols) != NULL);
}

static void fuzz_cc(const uint8_t *data, size_t size)
{
	struct x224_cc cc;
	const char *why = NULL;
	int r = x224_parse_cc(data, size, &cc, &why);
	CHECK(r >= -1 && r <= 1);
	CHECK(r == 1 || (why && *why));
	if (r != 1)
		return;
	CHECK(cc.pdu_len == X224_CR_MIN_LEN || cc.pdu_len == X224_CR_MIN_LEN + 8);
	CHECK(cc.pdu_len <= size);
	CHECK(cc.has_neg == (cc.pdu_len > X224_CR_MIN_LEN));
	CHECK(x224_failure_name(cc.failure_code) != NULL);
}

/* libFuzzer entry point; declared here as libFuzzer ships no header. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n = 0;
	int r = tpkt_pdu_length(data, size, &n, NULL);
	CHECK(r == (size < 4 ? 0 : r));
	if (r == 1)
		CHECK(n >= TPKT_MIN_LEN && n <= TPKT_MAX_LEN);
	fuzz_cr(data, size);
	fuzz_cc(data, size);
	return 0;
}
