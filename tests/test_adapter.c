/* cmocka tests for the security adapter's decisions (adapter.h): what md9
 * asks the server for, what it makes of the server's Connection Confirm and
 * MCS Connect-Response, the cause and fix it names, and the Connection
 * Confirm the host gets (legacy form for a legacy Connection Request). The
 * Connect-Responses are the captures in fuzz/corpus/mcs_response, read at
 * run time (MD9_SOURCE_DIR). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "adapter.h"
#include "mcs_seed.h"
#include "x224.h"

/* The seed's CR (0x0B) and the legacy form of it (no RDP_NEG_REQ). */
static const uint8_t legacy_cr[11] = {3, 0, 0, 11, 6, 0xe0, 0, 0, 0, 0, 0};

static struct x224_cc cc_selected(uint32_t p)
{
	struct x224_cc cc = {.pdu_len = 19, .has_neg = true, .neg_type = X224_TYPE_RDP_NEG_RSP};
	cc.selected_protocol = p;
	return cc;
}

static struct x224_cc cc_failure(uint32_t code)
{
	struct x224_cc cc = {.pdu_len = 19, .has_neg = true, .neg_type = X224_TYPE_RDP_NEG_FAILURE};
	cc.failure_code = code;
	return cc;
}

static void start(struct adapter *a, enum md9_security mode, bool legacy)
{
	uint8_t out[X224_CR_MAX_LEN];
	size_t n = 0;
	const char *why = NULL;
	const uint8_t *cr = legacy ? legacy_cr : mcs_seed_connection_request;
	size_t len = legacy ? sizeof(legacy_cr) : sizeof(mcs_seed_connection_request);
	struct x224_cr req;

	adapter_init(a, mode);
	assert_int_equal(x224_parse_cr(cr, len, &req, &why), 1);
	assert_int_equal(adapter_rewrite_cr(a, cr, &req, out, sizeof(out), &n, &why), 0);
}

static size_t corpus(const char *name, uint8_t *buf, size_t cap)
{
	char path[1024];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/fuzz/corpus/mcs_response/%s", MD9_SOURCE_DIR, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	n = fread(buf, 1, cap, f);
	fclose(f);
	return n;
}

static void test_asks(void **state)
{
	struct adapter a;

	(void)state;
	start(&a, MD9_SEC_AUTO, false);
	assert_int_equal(a.asked, X224_PROTOCOL_SSL);
	assert_true(a.host_neg_req);
	assert_int_equal(a.host_requested, 0x0B);
	start(&a, MD9_SEC_RDP, false);
	assert_int_equal(a.asked, X224_PROTOCOL_RDP);
	start(&a, MD9_SEC_PASSTHROUGH, false);
	assert_int_equal(a.asked, 0x0B);
	start(&a, MD9_SEC_AUTO, true);
	assert_false(a.host_neg_req);
	assert_int_equal(a.asked, X224_PROTOCOL_SSL);
}

static void test_nla(void **state)
{
	static const enum md9_security modes[] = {MD9_SEC_AUTO, MD9_SEC_TLS, MD9_SEC_RDP,
	                                          MD9_SEC_PASSTHROUGH};
	struct adapter a;
	const char *why = NULL;

	(void)state;
	for (size_t i = 0; i < 4; i++) {
		struct x224_cc f = cc_failure(X224_HYBRID_REQUIRED_BY_SERVER);
		start(&a, modes[i], false);
		/* Not passed on: the host cannot answer NLA either. */
		assert_int_equal(adapter_on_cc(&a, &f, &why), ADAPTER_FAIL);
		assert_int_equal(a.cause, ADAPTER_CAUSE_NLA);
		assert_non_null(strstr(why, "requires NLA (CredSSP): it answered "
		                            "HYBRID_REQUIRED_BY_SERVER"));
		assert_non_null(a.fix);
		assert_non_null(strstr(a.fix, "without NLA"));
	}
	struct x224_cc h = cc_selected(X224_PROTOCOL_HYBRID);
	start(&a, MD9_SEC_PASSTHROUGH, false);
	assert_int_equal(adapter_on_cc(&a, &h, &why), ADAPTER_FAIL);
	assert_int_equal(a.cause, ADAPTER_CAUSE_NLA);
	assert_non_null(strstr(why, "it selected HYBRID;"));
	struct x224_cc hx = cc_selected(X224_PROTOCOL_HYBRID_EX);
	start(&a, MD9_SEC_PASSTHROUGH, false);
	assert_int_equal(adapter_on_cc(&a, &hx, &why), ADAPTER_FAIL);
	assert_int_equal(a.cause, ADAPTER_CAUSE_NLA);
}

static void test_refusals(void **state)
{
	struct adapter a;
	const char *why = NULL;
	struct x224_cc req = cc_failure(X224_SSL_REQUIRED_BY_SERVER);
	struct x224_cc notallowed = cc_failure(X224_SSL_NOT_ALLOWED_BY_SERVER);

	(void)state;
	start(&a, MD9_SEC_RDP, false);
	assert_int_equal(adapter_on_cc(&a, &req, &why), ADAPTER_REFUSED);
	assert_string_equal(why, "the server refused RDP: SSL_REQUIRED_BY_SERVER");
	assert_int_equal(a.cause, ADAPTER_CAUSE_MODE);
	assert_non_null(strstr(a.fix, "--security auto"));
	/* auto: one retry for standard RDP security, then it is a refusal. */
	start(&a, MD9_SEC_AUTO, false);
	assert_int_equal(adapter_on_cc(&a, &notallowed, &why), ADAPTER_RETRY_RDP);
	assert_true(a.retried);
	assert_int_equal(adapter_on_cc(&a, &notallowed, &why), ADAPTER_REFUSED);
	/* A legacy host gets no RDP_NEG_FAILURE: the session just ends. */
	start(&a, MD9_SEC_RDP, true);
	assert_int_equal(adapter_on_cc(&a, &req, &why), ADAPTER_FAIL);
	assert_string_equal(why, "the server refused RDP: SSL_REQUIRED_BY_SERVER");
}

static void test_choices(void **state)
{
	struct adapter a;
	const char *why = NULL;
	struct x224_cc ssl = cc_selected(X224_PROTOCOL_SSL), rdp = cc_selected(X224_PROTOCOL_RDP);

	(void)state;
	start(&a, MD9_SEC_AUTO, false);
	assert_int_equal(adapter_on_cc(&a, &ssl, &why), ADAPTER_TLS);
	start(&a, MD9_SEC_AUTO, false);
	assert_int_equal(adapter_on_cc(&a, &rdp, &why), ADAPTER_PLAIN);
	start(&a, MD9_SEC_TLS, false);
	assert_int_equal(adapter_on_cc(&a, &rdp, &why), ADAPTER_FAIL);
	assert_int_equal(a.cause, ADAPTER_CAUSE_MODE);
	start(&a, MD9_SEC_RDP, false);
	assert_int_equal(adapter_on_cc(&a, &ssl, &why), ADAPTER_FAIL);
	start(&a, MD9_SEC_PASSTHROUGH, false);
	assert_int_equal(adapter_on_cc(&a, &ssl, &why), ADAPTER_PLAIN);
}

static void test_cc_for_host(void **state)
{
	struct adapter a;
	uint8_t out[32];
	size_t n = 0;
	const char *why = NULL;
	static const uint8_t seed_cc[19] = {0x03, 0x00, 0x00, 0x13, 0x0e, 0xd0, 0x00,
	                                    0x00, 0x12, 0x34, 0x00, 0x02, 0x1f, 0x08,
	                                    0x00, 0x01, 0x00, 0x00, 0x00};

	(void)state;
	start(&a, MD9_SEC_AUTO, false);
	assert_int_equal(adapter_cc_for_host(&a, seed_cc, 19, out, sizeof(out), &n, &why), 0);
	assert_int_equal(n, 19);
	assert_memory_equal(out, seed_cc, 19);
	/* MS-RDPBCGR 3.3.5.3.2: no rdpNegData for a CR that had no RDP_NEG_REQ. */
	start(&a, MD9_SEC_AUTO, true);
	assert_int_equal(adapter_cc_for_host(&a, seed_cc, 19, out, sizeof(out), &n, &why), 0);
	assert_int_equal(n, 11);
	assert_memory_equal(out, "\x03\x00\x00\x0b\x06\xd0\x00\x00\x12\x34\x00", 11);
	assert_int_equal(adapter_cc_for_host(&a, seed_cc, 18, out, sizeof(out), &n, &why), -1);
}

static void test_connect_response(void **state)
{
	struct adapter a;
	uint8_t pdu[4096];
	const char *why = NULL;
	struct x224_cc rdp = cc_selected(X224_PROTOCOL_RDP), ssl = cc_selected(X224_PROTOCOL_SSL);
	size_t n;

	(void)state;
	start(&a, MD9_SEC_RDP, false);
	assert_int_equal(adapter_on_cc(&a, &rdp, &why), ADAPTER_PLAIN);
	n = corpus("shadow_rdp_capture", pdu, sizeof(pdu));
	assert_int_equal(adapter_on_server_pdu(&a, pdu, n, &why), ADAPTER_PLAIN);
	n = corpus("rdp_128bit_high", pdu, sizeof(pdu));
	assert_int_equal(adapter_on_server_pdu(&a, pdu, n, &why), ADAPTER_FAIL);
	assert_int_equal(a.cause, ADAPTER_CAUSE_ENCRYPTS);
	assert_string_equal(why, "the server encrypts with standard RDP security (encryptionMethod "
	                         "128BIT, encryptionLevel HIGH), which the Hyper-V host cannot do");
	assert_non_null(strstr(a.fix, "crypt_level=none"));
	n = corpus("rdp_fips", pdu, sizeof(pdu));
	assert_int_equal(adapter_on_server_pdu(&a, pdu, n, &why), ADAPTER_FAIL);
	assert_non_null(strstr(why, "encryptionMethod FIPS, encryptionLevel FIPS"));
	n = corpus("refused", pdu, sizeof(pdu));
	assert_int_equal(adapter_on_server_pdu(&a, pdu, n, &why), ADAPTER_REFUSED);
	assert_non_null(strstr(why, "T.125 result 14"));
	/* Malformed: a Connect-Response tag over a cut body. */
	n = corpus("shadow_rdp_capture", pdu, sizeof(pdu));
	pdu[3] = 40;
	assert_int_equal(adapter_on_server_pdu(&a, pdu, 40, &why), ADAPTER_FAIL);
	assert_int_equal(a.cause, ADAPTER_CAUSE_PROTOCOL);
	assert_non_null(strstr(why, "malformed MCS Connect-Response"));
	/* Not a Connect-Response: xrdp's Disconnect-Provider-Ultimatum. In
	 * passthrough with SSL selected that means: no vmconnect mode. */
	static const uint8_t dpum[] = {0x03, 0x00, 0x00, 0x09, 0x02, 0xf0, 0x80, 0x21, 0x80};
	assert_int_equal(adapter_on_server_pdu(&a, dpum, sizeof(dpum), &why), ADAPTER_REFUSED);
	assert_int_equal(a.cause, ADAPTER_CAUSE_PROTOCOL);
	start(&a, MD9_SEC_PASSTHROUGH, false);
	assert_int_equal(adapter_on_cc(&a, &ssl, &why), ADAPTER_PLAIN);
	assert_int_equal(adapter_on_server_pdu(&a, dpum, sizeof(dpum), &why), ADAPTER_REFUSED);
	assert_int_equal(a.cause, ADAPTER_CAUSE_NO_VMCONNECT);
	assert_non_null(strstr(why, "it has no vmconnect mode"));
	why = adapter_no_connect_response(&a);
	assert_int_equal(a.cause, ADAPTER_CAUSE_NO_VMCONNECT);
	assert_non_null(strstr(a.fix, "--security auto"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_asks),        cmocka_unit_test(test_nla),
	    cmocka_unit_test(test_refusals),    cmocka_unit_test(test_choices),
	    cmocka_unit_test(test_cc_for_host), cmocka_unit_test(test_connect_response),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
