/* The negotiation object (src/rdp/negotiation.c), bytes in and actions out,
 * without any I/O: the request held until the server is connected and then
 * rewritten for each security mode; TLS, plain and refused answers; auto's
 * fallback reconnect; a Connection Request and Connect-Initial that arrive
 * in one piece or byte by byte; the Connect-Initial patched with the
 * server's choice; the server's Connect-Response read whole before the host
 * gets it; the legacy Connection Confirm; and the reasons it gives when it
 * fails. */
#include "log.h"
#include "mcs.h"
#include "negotiation.h"
#include "x224.h"

#include "mcs_seed.h"
#include "tools/connect_response.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* protocol.md §7: vmconnect's Connection Request, requestedProtocols 0x0B */
static const uint8_t cr_vmconnect[] = {0x03, 0x00, 0x00, 0x13, 0x0e, 0xe0, 0x00, 0x00, 0x00, 0x00,
                                       0x00, 0x01, 0x00, 0x08, 0x00, 0x0b, 0x00, 0x00, 0x00};
/* A legacy request: no RDP_NEG_REQ at all. */
static const uint8_t cr_legacy[] = {0x03, 0x00, 0x00, 0x0b, 0x06, 0xe0,
                                    0x00, 0x00, 0x00, 0x00, 0x00};
/* Connection Confirms: RDP_NEG_RSP selecting SSL / RDP, RDP_NEG_FAILURE. */
static const uint8_t cc_ssl[] = {0x03, 0x00, 0x00, 0x13, 0x0e, 0xd0, 0x00, 0x00, 0x12, 0x34,
                                 0x00, 0x02, 0x00, 0x08, 0x00, 0x01, 0x00, 0x00, 0x00};
static const uint8_t cc_rdp[] = {0x03, 0x00, 0x00, 0x13, 0x0e, 0xd0, 0x00, 0x00, 0x12, 0x34,
                                 0x00, 0x02, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00};
static const uint8_t cc_ssl_not_allowed[] = {0x03, 0x00, 0x00, 0x13, 0x0e, 0xd0, 0x00,
                                             0x00, 0x12, 0x34, 0x00, 0x03, 0x00, 0x08,
                                             0x00, 0x02, 0x00, 0x00, 0x00};

/* Bytes from one side into the negotiation, the way the session puts them. */
static void put(struct negotiation *n, bool from_host, const uint8_t *p, size_t len)
{
	size_t room;
	uint8_t *at;

	assert_true(from_host ? negotiation_wants_host(n) : negotiation_wants_server(n));
	at = from_host ? negotiation_host_room(n, &room) : negotiation_server_room(n, &room);
	assert_true(room >= len);
	memcpy(at, p, len);
	(from_host ? negotiation_host_in : negotiation_server_in)(n, len);
}

#define host_in(n, p, len)   put(n, true, p, len)
#define server_in(n, p, len) put(n, false, p, len)

/* The next action must be `act`; returns it (popped). */
static struct negotiation_action expect(struct negotiation *n, enum negotiation_act act)
{
	const struct negotiation_action *a = negotiation_action(n);
	struct negotiation_action copy;

	assert_non_null(a);
	if (a->act != act)
		fail_msg("action %d, expected %d (why: %s)", a->act, act, a->why ? a->why : "");
	copy = *a;
	negotiation_pop(n);
	return copy;
}

/* The next action must hand out exactly these bytes. */
static void expect_bytes(struct negotiation *n, enum negotiation_act act, const uint8_t *p,
                         size_t len)
{
	struct negotiation_action a = expect(n, act);

	assert_int_equal(a.len, len);
	assert_memory_equal(a.data, p, len);
}

/* A PDU from the server in two pieces: nothing happens after the first. */
static void server_in_two(struct negotiation *n, const uint8_t *p, size_t len, size_t first)
{
	server_in(n, p, first);
	assert_null(negotiation_action(n));
	server_in(n, p + first, len - first);
}

static uint32_t requested(const struct negotiation_action *a)
{
	struct x224_cr cr;

	assert_int_equal(x224_parse_cr(a->data, a->len, &cr, NULL), 1);
	assert_int_equal(cr.pdu_len, a->len);
	return cr.has_neg_req ? cr.requested_protocols : X224_PROTOCOL_RDP;
}

static uint32_t server_selected_protocol(const struct negotiation_action *a)
{
	struct mcs_connect_initial ci;
	const uint8_t *p;

	assert_int_equal(
	    mcs_parse_connect_initial(a->data, sizeof(mcs_seed_connect_initial), &ci, NULL), 1);
	p = a->data + ci.core_off + MCS_CORE_SSP_OFF;
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* auto, the server selects SSL: the CC goes to the host, md9 does TLS, the
 * Connect-Initial says SSL. The request waits for the connect. */
static void test_auto_tls(void **state)
{
	struct negotiation *n = negotiation_new(MD9_SEC_AUTO, false, 1);
	struct negotiation_action a;
	struct negotiation_result r;

	(void)state;
	assert_non_null(n);
	assert_false(negotiation_wants_server(n));
	host_in(n, cr_vmconnect, 5);
	assert_null(negotiation_action(n));
	host_in(n, cr_vmconnect + 5, sizeof(cr_vmconnect) - 5);
	assert_null(negotiation_action(n)); /* not connected: nothing goes out */
	assert_false(negotiation_wants_host(n));
	negotiation_server_connected(n);
	a = expect(n, NEGO_TO_SERVER);
	assert_int_equal(requested(&a), X224_PROTOCOL_SSL);
	assert_null(negotiation_action(n));
	assert_int_equal(negotiation_phase(n), NEGO_CONFIRM);

	negotiation_result(n, &r);
	assert_false(r.selected_known);
	server_in_two(n, cc_ssl, sizeof(cc_ssl), 7);
	expect_bytes(n, NEGO_TO_HOST, cc_ssl, sizeof(cc_ssl));
	expect(n, NEGO_START_TLS);
	assert_int_equal(negotiation_phase(n), NEGO_TLS);
	assert_false(negotiation_wants_host(n));
	negotiation_result(n, &r);
	assert_true(r.selected_known);
	assert_int_equal(r.host_requested, 0x0b);
	assert_int_equal(r.asked, X224_PROTOCOL_SSL);
	assert_int_equal(r.selected, X224_PROTOCOL_SSL);

	negotiation_tls_done(n);
	assert_int_equal(negotiation_phase(n), NEGO_CONNECT_INITIAL);
	for (size_t i = 0; i < sizeof(mcs_seed_connect_initial); i++) {
		assert_null(negotiation_action(n));
		host_in(n, mcs_seed_connect_initial + i, 1); /* byte by byte */
	}
	a = expect(n, NEGO_TO_SERVER);
	assert_int_equal(a.len, sizeof(mcs_seed_connect_initial));
	assert_int_equal(server_selected_protocol(&a), X224_PROTOCOL_SSL);
	assert_int_equal(negotiation_phase(n), NEGO_CONNECT_RESPONSE);
	assert_false(negotiation_wants_host(n));
	/* the answer is held until it is whole, then goes to the host */
	server_in_two(n, test_connect_response, sizeof(test_connect_response), 50);
	expect_bytes(n, NEGO_TO_HOST, test_connect_response, sizeof(test_connect_response));
	expect(n, NEGO_RELAY);
	assert_int_equal(negotiation_phase(n), NEGO_DONE);
	assert_false(negotiation_wants_host(n) || negotiation_wants_server(n));
	negotiation_free(n);
}

/* rdp mode: a legacy request gets an RDP_NEG_REQ only when it asks for
 * something; the CC and a Connect-Initial that came with the request in one
 * piece go out at once, and whatever the server sent after its CC goes to
 * the host unchanged. */
static void test_rdp_coalesced(void **state)
{
	struct negotiation *n = negotiation_new(MD9_SEC_RDP, false, 2);
	uint8_t both[sizeof(cr_vmconnect) + sizeof(mcs_seed_connect_initial)];
	uint8_t cc_more[sizeof(cc_rdp) + 3];
	struct negotiation_action a;

	(void)state;
	memcpy(both, cr_vmconnect, sizeof(cr_vmconnect));
	memcpy(both + sizeof(cr_vmconnect), mcs_seed_connect_initial,
	       sizeof(mcs_seed_connect_initial));
	memcpy(cc_more, cc_rdp, sizeof(cc_rdp));
	memcpy(cc_more + sizeof(cc_rdp), "abc", 3);
	negotiation_server_connected(n); /* connected before the request came */
	assert_null(negotiation_action(n));
	host_in(n, both, sizeof(both));
	a = expect(n, NEGO_TO_SERVER);
	assert_int_equal(requested(&a), X224_PROTOCOL_RDP);
	server_in(n, cc_more, sizeof(cc_more));
	expect_bytes(n, NEGO_TO_HOST, cc_rdp, sizeof(cc_rdp));
	expect_bytes(n, NEGO_TO_HOST, (const uint8_t *)"abc", 3);
	a = expect(n, NEGO_TO_SERVER);
	assert_int_equal(a.len, sizeof(mcs_seed_connect_initial));
	assert_int_equal(server_selected_protocol(&a), X224_PROTOCOL_RDP);
	/* the server ends without a Connect-Response: what it sent goes to
	 * the host, and the session ends */
	server_in(n, (const uint8_t *)"\x03\x00", 2);
	negotiation_server_closed(n, 0);
	a = expect(n, NEGO_TO_HOST);
	assert_int_equal(a.len, 2);
	a = expect(n, NEGO_REFUSED);
	assert_string_equal(
	    a.why, "the server did not answer the MCS Connect-Initial with a Connect-Response");
	negotiation_free(n);

	/* A legacy request stays as it is in rdp mode, and its host gets the
	 * legacy Connection Confirm, without rdpNegData (MS-RDPBCGR
	 * 3.3.5.3.2); in tls mode it gets RDP_NEG_REQ (SSL) appended. */
	n = negotiation_new(MD9_SEC_RDP, false, 3);
	host_in(n, cr_legacy, sizeof(cr_legacy));
	negotiation_server_connected(n);
	expect_bytes(n, NEGO_TO_SERVER, cr_legacy, sizeof(cr_legacy));
	server_in(n, cc_rdp, sizeof(cc_rdp));
	a = expect(n, NEGO_TO_HOST);
	assert_int_equal(a.len, 11);
	assert_int_equal(a.data[3], 11);
	negotiation_free(n);
	n = negotiation_new(MD9_SEC_TLS, false, 4);
	host_in(n, cr_legacy, sizeof(cr_legacy));
	negotiation_server_connected(n);
	a = expect(n, NEGO_TO_SERVER);
	assert_int_equal(a.len, sizeof(cr_legacy) + 8);
	assert_int_equal(requested(&a), X224_PROTOCOL_SSL);
	negotiation_free(n);
}

/* auto: the server refuses TLS with SSL_NOT_ALLOWED_BY_SERVER; md9
 * reconnects and, once connected again, asks for RDP; a second refusal is
 * passed to the host. */
static void test_auto_fallback_then_refused(void **state)
{
	struct negotiation *n = negotiation_new(MD9_SEC_AUTO, false, 5);
	struct negotiation_action a;
	struct negotiation_result r;

	(void)state;
	host_in(n, cr_vmconnect, sizeof(cr_vmconnect));
	negotiation_server_connected(n);
	a = expect(n, NEGO_TO_SERVER);
	assert_int_equal(requested(&a), X224_PROTOCOL_SSL);
	server_in(n, cc_ssl_not_allowed, sizeof(cc_ssl_not_allowed));
	expect(n, NEGO_RECONNECT);
	assert_null(negotiation_action(n)); /* nothing before the new connect */
	assert_false(negotiation_wants_server(n));
	negotiation_server_connected(n);
	a = expect(n, NEGO_TO_SERVER);
	assert_int_equal(requested(&a), X224_PROTOCOL_RDP);
	server_in(n, cc_ssl_not_allowed, sizeof(cc_ssl_not_allowed));
	expect_bytes(n, NEGO_TO_HOST, cc_ssl_not_allowed, sizeof(cc_ssl_not_allowed));
	a = expect(n, NEGO_REFUSED);
	assert_string_equal(a.why, "the server refused RDP: SSL_NOT_ALLOWED_BY_SERVER");
	negotiation_result(n, &r);
	assert_int_equal(r.mode, MD9_SEC_AUTO);
	assert_int_equal(negotiation_phase(n), NEGO_ENDED);
	negotiation_result(n, &r);
	assert_false(r.selected_known);
	negotiation_free(n);
}

/* A negotiation in mode whose request went to a connected server. */
static struct negotiation *request_sent(enum md9_security mode, uint64_t id)
{
	struct negotiation *n = negotiation_new(mode, false, id);

	assert_non_null(n);
	host_in(n, cr_vmconnect, sizeof(cr_vmconnect));
	negotiation_server_connected(n);
	expect(n, NEGO_TO_SERVER);
	return n;
}

/* Failures end with the reason the session logs. */
static void test_failures(void **state)
{
	static const uint8_t not_cr[] = {0x03, 0x00, 0x00, 0x0b, 0x06, 0xd0,
	                                 0x00, 0x00, 0x00, 0x00, 0x00};
	struct negotiation *n;
	struct negotiation_action a;

	(void)state;
	n = negotiation_new(MD9_SEC_AUTO, false, 6);
	host_in(n, not_cr, sizeof(not_cr));
	a = expect(n, NEGO_FAIL);
	assert_string_equal(a.why, "malformed X.224 Connection Request from the host: X.224 TPDU "
	                           "code is not Connection Request (0xE0)");
	assert_false(negotiation_wants_host(n));
	negotiation_free(n);

	/* tls mode and a server that selects RDP */
	n = request_sent(MD9_SEC_TLS, 7);
	server_in(n, cc_rdp, sizeof(cc_rdp));
	a = expect(n, NEGO_FAIL);
	assert_non_null(strstr(a.why, "requires"));
	negotiation_free(n);

	/* the server hangs up before its Connection Confirm */
	n = request_sent(MD9_SEC_AUTO, 8);
	negotiation_server_closed(n, 0);
	a = expect(n, NEGO_FAIL);
	assert_string_equal(a.why,
	                    "the server closed the connection before its Connection Confirm");
	negotiation_free(n);

	/* TLS selected, but the server sent more right after its CC */
	n = request_sent(MD9_SEC_AUTO, 9);
	{
		uint8_t more[sizeof(cc_ssl) + 1];
		memcpy(more, cc_ssl, sizeof(cc_ssl));
		more[sizeof(cc_ssl)] = 0x16;
		server_in(n, more, sizeof(more));
	}
	a = expect(n, NEGO_FAIL);
	assert_string_equal(a.why, "the server sent data after its Connection Confirm before TLS");
	negotiation_free(n);

	/* a Connect-Initial that is not one */
	n = request_sent(MD9_SEC_RDP, 10);
	server_in(n, cc_rdp, sizeof(cc_rdp));
	expect(n, NEGO_TO_HOST);
	host_in(n, cr_vmconnect, sizeof(cr_vmconnect)); /* a TPKT, but no MCS */
	a = expect(n, NEGO_FAIL);
	assert_non_null(strstr(a.why, "malformed MCS Connect-Initial from the host: "));
	negotiation_free(n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_auto_tls),
	    cmocka_unit_test(test_rdp_coalesced),
	    cmocka_unit_test(test_auto_fallback_then_refused),
	    cmocka_unit_test(test_failures),
	};

	md9_log_init("test_negotiation", MD9_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
