#include "negotiation.h"

#include "log.h"
#include "tpkt.h"
#include "x224.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* At most three actions follow one input (TO_HOST twice and TO_SERVER, or
 * TO_HOST and RELAY), and no input is taken while any wait. */
#define NEGO_QUEUE 4

struct negotiation {
	uint64_t id;
	bool quiet; /* negotiation_quiet: the caller reports, nothing is logged */
	enum negotiation_phase phase;
	struct adapter adapter;
	bool connected; /* the server connection is up */
	bool accepted;  /* the server's Connection Confirm was accepted */

	/* From the host: the Connection Request, then the Connect-Initial. */
	uint8_t *host;
	size_t host_len;
	struct x224_cr cr; /* the request, parsed once; cr_len = 0 until then */
	size_t cr_len;
	/* The request for the server: the adapter's rewrite of the host's. */
	uint8_t cr_out[X224_CR_MAX_LEN];
	size_t cr_out_len;
	/* From the server: the Connection Confirm and what came with it, then
	 * its answer to the Connect-Initial. */
	uint8_t *server;
	size_t server_len;
	/* The Connection Confirm as the host gets it (adapter_cc_for_host). */
	uint8_t cc_out[X224_CR_MAX_LEN];

	struct negotiation_action q[NEGO_QUEUE];
	int qhead, qlen;
	char why[256];
};

static void push(struct negotiation *n, enum negotiation_act act, const uint8_t *data, size_t len)
{
	if (n->qlen == NEGO_QUEUE) {
		/* Cannot happen (see NEGO_QUEUE); end rather than lose an action. */
		n->q[(n->qhead + n->qlen - 1) % NEGO_QUEUE] = (struct negotiation_action){
		    .act = NEGO_FAIL, .why = "internal error: negotiation queue full"};
		n->phase = NEGO_ENDED;
		return;
	}
	n->q[(n->qhead + n->qlen++) % NEGO_QUEUE] =
	    (struct negotiation_action){.act = act, .data = data, .len = len, .why = n->why};
}

static void end_with(struct negotiation *n, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The session ends, for the reason given. */
static void end_with(struct negotiation *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(n->why, sizeof(n->why), fmt, ap);
	va_end(ap);
	n->phase = NEGO_ENDED;
	push(n, NEGO_FAIL, NULL, 0);
}

/* One log line about the session, unless the negotiation is quiet. */
static void say(const struct negotiation *n, enum md9_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(const struct negotiation *n, enum md9_log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (n->quiet || level > md9_log_get_level())
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	md9_log(level, "session %llu: %s", (unsigned long long)n->id, line);
}

/* One line naming what cannot work and its fix (adapter.h). */
static void log_cause(const struct negotiation *n, const char *why, const char *suffix)
{
	if (n->adapter.fix)
		say(n, MD9_LOG_WARN, "%s%s; fix: %s", why, suffix, n->adapter.fix);
	else
		say(n, MD9_LOG_WARN, "%s%s", why, suffix);
}

/* The session ends after the host has read what the server said (data,
 * len: in the server buffer), for the reason why. */
static void refuse(struct negotiation *n, const char *why, size_t len)
{
	snprintf(n->why, sizeof(n->why), "%s", why);
	if (len)
		push(n, NEGO_TO_HOST, n->server, len);
	push(n, NEGO_REFUSED, NULL, 0);
	n->phase = NEGO_ENDED;
}

static void log_choice(const struct negotiation *n)
{
	say(n, MD9_LOG_INFO,
	    "host requested %s, md9 (%s) asked the server for %s, server selected %s",
	    x224_protocol_name(n->adapter.host_requested), md9_security_name(n->adapter.mode),
	    x224_protocol_name(n->adapter.asked), x224_protocol_name(n->adapter.selected));
}

/* ---- REQUEST ---- */

/* The request goes to the server once both it is rewritten and the server
 * is connected. */
static void send_cr(struct negotiation *n)
{
	if (n->phase != NEGO_REQUEST || !n->connected || !n->cr_out_len)
		return;
	push(n, NEGO_TO_SERVER, n->cr_out, n->cr_out_len);
	n->phase = NEGO_CONFIRM;
}

static void rewrite_cr(struct negotiation *n)
{
	const char *why = NULL;

	n->cr_out_len = 0;
	if (adapter_rewrite_cr(&n->adapter, n->host, &n->cr, n->cr_out, sizeof(n->cr_out),
	                       &n->cr_out_len, &why) < 0)
		end_with(n, "cannot rewrite the Connection Request: %s", why);
}

/* The host's Connection Request: parsed once complete; the rewritten one
 * waits in cr_out for the server. */
static void take_cr(struct negotiation *n)
{
	const char *why = NULL;
	int rc = x224_parse_cr(n->host, n->host_len, &n->cr, &why);

	if (rc < 0) {
		end_with(n, "malformed X.224 Connection Request from the host: %s", why);
		return;
	}
	if (rc == 0) {
		if (n->host_len == NEGOTIATION_BUF)
			end_with(n, "the host sent more than %d bytes without a complete PDU",
			         NEGOTIATION_BUF);
		return;
	}
	n->cr_len = n->cr.pdu_len;
	rewrite_cr(n);
	if (n->phase == NEGO_ENDED)
		return;
	say(n, MD9_LOG_DEBUG, "host requested %s", x224_protocol_name(n->adapter.host_requested));
	send_cr(n);
}

/* ---- CONNECT_INITIAL ---- */

/* Host bytes after the CR: the MCS Connect-Initial, patched, then relay. */
static void take_connect_initial(struct negotiation *n)
{
	const char *why = NULL;
	size_t pdu;
	int rc;

	if (n->cr_len) {
		/* Host bytes after the CR were read with it: keep them. */
		memmove(n->host, n->host + n->cr_len, n->host_len - n->cr_len);
		n->host_len -= n->cr_len;
		n->cr_len = 0;
	}
	if (n->host_len == 0)
		return;
	rc = tpkt_pdu_length(n->host, n->host_len, &pdu, &why);
	if (rc < 0) {
		end_with(n, "malformed PDU from the host after the Connection Confirm: %s", why);
		return;
	}
	if (rc == 0 || n->host_len < pdu) {
		if (n->host_len == NEGOTIATION_BUF)
			end_with(n, "the host sent more than %d bytes without a complete PDU",
			         NEGOTIATION_BUF);
		return;
	}
	if (adapter_fix_connect_initial(&n->adapter, n->host, pdu, &why) < 0) {
		end_with(n, "malformed MCS Connect-Initial from the host: %s", why);
		return;
	}
	push(n, NEGO_TO_SERVER, n->host, n->host_len);
	n->server_len = 0;
	n->phase = NEGO_CONNECT_RESPONSE;
}

/* ---- CONNECT_RESPONSE: the server response step, again ---- */

/* The server's answer to the Connect-Initial, read whole before the host
 * sees any of it: a Connect-Response md9 can relay (adapter_on_server_pdu)
 * goes to the host and the relay starts with it. */
static void take_connect_response(struct negotiation *n)
{
	const char *why = NULL;
	size_t pdu = 0;
	int rc = tpkt_pdu_length(n->server, n->server_len, &pdu, &why);

	if (rc < 0) {
		why = adapter_no_connect_response(&n->adapter);
		log_cause(n, why, " (its answer is not a TPKT)");
		end_with(n, "%s", why);
		return;
	}
	if (rc == 0 || n->server_len < pdu)
		return; /* a TPKT fits: TPKT_MAX_LEN < NEGOTIATION_BUF */
	switch (adapter_on_server_pdu(&n->adapter, n->server, pdu, &why)) {
	case ADAPTER_PLAIN:
		break;
	case ADAPTER_REFUSED:
		/* Not a Connect-Response: what the server said goes to the host,
		 * then the session ends. */
		log_cause(n, why, "");
		refuse(n, why, n->server_len);
		return;
	default:
		log_cause(n, why, "");
		end_with(n, "%s", why);
		return;
	}
	push(n, NEGO_TO_HOST, n->server, n->server_len);
	push(n, NEGO_RELAY, NULL, 0);
	n->phase = NEGO_DONE;
}

/* ---- CONFIRM: the server response step ---- */

/* The server's Connection Confirm as the host gets it: unchanged, or the
 * legacy form (adapter_cc_for_host). */
static int cc_to_host(struct negotiation *n, size_t cc_len)
{
	const char *why = NULL;
	size_t len = 0;

	if (adapter_cc_for_host(&n->adapter, n->server, cc_len, n->cc_out, sizeof(n->cc_out), &len,
	                        &why) < 0) {
		end_with(n, "cannot pass the Connection Confirm on: %s", why);
		return -1;
	}
	if (len != cc_len)
		say(n, MD9_LOG_DEBUG,
		    "the host sent no RDP_NEG_REQ: passing the Connection Confirm on without "
		    "rdpNegData");
	push(n, NEGO_TO_HOST, n->cc_out, len);
	return 0;
}

/* The server's Connection Confirm, once complete: the adapter's verdict. */
static void take_cc(struct negotiation *n)
{
	struct x224_cc cc;
	const char *why = NULL;
	int rc = x224_parse_cc(n->server, n->server_len, &cc, &why);

	if (rc < 0) {
		end_with(n, "malformed X.224 Connection Confirm from the server: %s", why);
		return;
	}
	if (rc == 0) {
		if (n->server_len == NEGOTIATION_BUF)
			end_with(n,
			         "the server sent more than %d bytes without a Connection Confirm",
			         NEGOTIATION_BUF);
		return;
	}

	switch (adapter_on_cc(&n->adapter, &cc, &why)) {
	case ADAPTER_RETRY_RDP:
		say(n, MD9_LOG_INFO,
		    "the server refused TLS (%s); asking again for standard RDP security",
		    x224_failure_name(cc.failure_code));
		n->server_len = 0;
		n->connected = false;
		n->phase = NEGO_REQUEST;
		rewrite_cr(n);
		if (n->phase != NEGO_ENDED)
			push(n, NEGO_RECONNECT, NULL, 0);
		return;
	case ADAPTER_REFUSED:
		log_cause(n, why, "; passing its answer to the host");
		refuse(n, why, cc.pdu_len);
		return;
	case ADAPTER_FAIL:
		if (!cc.has_neg || cc.neg_type != X224_TYPE_RDP_NEG_FAILURE)
			log_choice(n);
		log_cause(n, why, "");
		end_with(n, "%s", why);
		return;
	case ADAPTER_TLS:
		if (n->server_len != cc.pdu_len) {
			end_with(n, "the server sent data after its Connection Confirm before TLS");
			return;
		}
		log_choice(n);
		n->accepted = true;
		if (cc_to_host(n, cc.pdu_len) < 0)
			return;
		push(n, NEGO_START_TLS, NULL, 0);
		n->phase = NEGO_TLS;
		return;
	case ADAPTER_PLAIN:
		log_choice(n);
		if (n->adapter.mode == MD9_SEC_PASSTHROUGH &&
		    n->adapter.selected != X224_PROTOCOL_RDP)
			say(n, MD9_LOG_DEBUG,
			    "passthrough: the server selected %s; the host sends plaintext, so "
			    "this only works if the server runs in vmconnect mode (xrdp "
			    "vmconnect=true)",
			    x224_protocol_name(n->adapter.selected));
		n->accepted = true;
		/* The CC and anything after it go to the host. */
		if (cc_to_host(n, cc.pdu_len) < 0)
			return;
		if (n->server_len > cc.pdu_len)
			push(n, NEGO_TO_HOST, n->server + cc.pdu_len, n->server_len - cc.pdu_len);
		n->phase = NEGO_CONNECT_INITIAL;
		take_connect_initial(n);
		return;
	}
	end_with(n, "internal error: unknown adapter verdict");
}

/* ---- the interface ---- */

struct negotiation *negotiation_new(enum md9_security mode, bool require_tls, uint64_t id)
{
	struct negotiation *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->host = malloc(NEGOTIATION_BUF);
	n->server = malloc(NEGOTIATION_BUF);
	if (!n->host || !n->server) {
		negotiation_free(n);
		return NULL;
	}
	n->id = id;
	n->phase = NEGO_REQUEST;
	adapter_init(&n->adapter, mode);
	n->adapter.require_tls = require_tls;
	return n;
}

void negotiation_quiet(struct negotiation *n)
{
	n->quiet = true;
}

void negotiation_free(struct negotiation *n)
{
	if (!n)
		return;
	free(n->host);
	free(n->server);
	free(n);
}

enum negotiation_phase negotiation_phase(const struct negotiation *n)
{
	return n->phase;
}

void negotiation_result(const struct negotiation *n, struct negotiation_result *out)
{
	*out = (struct negotiation_result){
	    .mode = n->adapter.mode,
	    .host_requested = n->adapter.host_requested,
	    .asked = n->adapter.asked,
	    .selected = n->adapter.selected,
	    .selected_known = n->accepted,
	    .cause = n->adapter.cause,
	    .fix = n->adapter.fix,
	};
}

bool negotiation_wants_host(const struct negotiation *n)
{
	if (n->qlen)
		return false;
	return (n->phase == NEGO_REQUEST && !n->cr_len) || n->phase == NEGO_CONNECT_INITIAL;
}

uint8_t *negotiation_host_room(struct negotiation *n, size_t *room)
{
	*room = NEGOTIATION_BUF - n->host_len;
	return n->host + n->host_len;
}

void negotiation_host_in(struct negotiation *n, size_t len)
{
	n->host_len += len;
	if (n->phase == NEGO_REQUEST && !n->cr_len)
		take_cr(n);
	else if (n->phase == NEGO_CONNECT_INITIAL)
		take_connect_initial(n);
}

bool negotiation_wants_server(const struct negotiation *n)
{
	return !n->qlen && (n->phase == NEGO_CONFIRM || n->phase == NEGO_CONNECT_RESPONSE);
}

uint8_t *negotiation_server_room(struct negotiation *n, size_t *room)
{
	*room = NEGOTIATION_BUF - n->server_len;
	return n->server + n->server_len;
}

void negotiation_server_in(struct negotiation *n, size_t len)
{
	n->server_len += len;
	if (n->phase == NEGO_CONFIRM)
		take_cc(n);
	else if (n->phase == NEGO_CONNECT_RESPONSE)
		take_connect_response(n);
}

void negotiation_server_closed(struct negotiation *n, int err)
{
	const char *why;

	if (n->phase == NEGO_CONNECT_RESPONSE) {
		why = adapter_no_connect_response(&n->adapter);
		log_cause(n, why, "");
		refuse(n, why, n->server_len);
	} else if (err) {
		end_with(n, "reading from the server failed: %s", strerror(err));
	} else {
		end_with(n, "the server closed the connection before its Connection Confirm");
	}
}

void negotiation_server_connected(struct negotiation *n)
{
	n->connected = true;
	send_cr(n);
}

void negotiation_tls_done(struct negotiation *n)
{
	if (n->phase != NEGO_TLS)
		return;
	n->phase = NEGO_CONNECT_INITIAL;
	take_connect_initial(n);
}

const struct negotiation_action *negotiation_action(const struct negotiation *n)
{
	return n->qlen ? &n->q[n->qhead] : NULL;
}

void negotiation_pop(struct negotiation *n)
{
	if (!n->qlen)
		return;
	n->qhead = (n->qhead + 1) % NEGO_QUEUE;
	n->qlen--;
}
