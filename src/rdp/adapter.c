#include "adapter.h"

#include "log.h"
#include "mcs.h"

#include <stdio.h>
#include <string.h>

/* The fixes named in md9's log lines and by md9 doctor. */
static const char fix_auto[] = "let md9 do TLS with the server: sudo md9 setup --security auto";
static const char fix_encrypts[] =
    "turn the server's standard RDP security encryption off: crypt_level=none in xrdp.ini "
    "[Globals] (sudo md9 setup --security rdp does it); or let the server offer TLS "
    "(xrdp security_layer=negotiate or tls) and use md9's auto mode";
static const char fix_nla[] =
    "let the server accept TLS or standard RDP security without NLA (xrdp: "
    "security_layer=negotiate or tls; FreeRDP: /sec:tls) and use md9's auto mode (sudo md9 "
    "setup --security auto); a server that only does NLA cannot work behind md9";
static const char fix_vmconnect[] =
    "sudo md9 setup --security auto (md9 then does TLS with the server); passthrough needs "
    "a server with a vmconnect mode (xrdp vmconnect=true, not in Debian 12's xrdp 0.9.21)";
static const char fix_cert[] = "give the server a certificate (xrdp.ini certificate and key_file)";
/* Where TLS is required (security = tls, or a tls_pin) a fix never points
 * to a mode that would do without it. */
static const char fix_tls[] =
    "let the server offer TLS (xrdp: security_layer=negotiate or tls in xrdp.ini [Globals]; "
    "FreeRDP shadow: /sec:tls)";

void adapter_init(struct adapter *a, enum md9_security mode)
{
	memset(a, 0, sizeof(*a));
	a->mode = mode;
}

int adapter_rewrite_cr(struct adapter *a, const uint8_t *cr, const struct x224_cr *req,
                       uint8_t *out, size_t cap, size_t *out_len, const char **why)
{
	a->host_neg_req = req->has_neg_req;
	a->host_requested = req->has_neg_req ? req->requested_protocols : X224_PROTOCOL_RDP;
	switch (a->mode) {
	case MD9_SEC_PASSTHROUGH:
		a->asked = a->host_requested;
		if (req->pdu_len > cap) {
			*why = "Connection Request larger than the buffer";
			return -1;
		}
		memcpy(out, cr, req->pdu_len);
		*out_len = req->pdu_len;
		return 0;
	case MD9_SEC_RDP:
		a->asked = X224_PROTOCOL_RDP;
		break;
	case MD9_SEC_TLS:
		a->asked = X224_PROTOCOL_SSL;
		break;
	case MD9_SEC_AUTO:
		a->asked = a->retried ? X224_PROTOCOL_RDP : X224_PROTOCOL_SSL;
		break;
	}
	return x224_rewrite_cr(cr, req, a->asked, out, cap, out_len, why);
}

/* Does the server insist on CredSSP? */
static bool nla_selected(uint32_t selected)
{
	return (selected & (X224_PROTOCOL_HYBRID | X224_PROTOCOL_HYBRID_EX)) != 0;
}

static enum adapter_verdict fail_nla(struct adapter *a, const char *what, const char **why)
{
	snprintf(a->why_buf, sizeof(a->why_buf),
	         "the server requires NLA (CredSSP): it %s; md9 cannot do NLA: the host has "
	         "already authenticated the user and passes no credentials on",
	         what);
	a->fix = fix_nla;
	a->cause = ADAPTER_CAUSE_NLA;
	*why = a->why_buf;
	return ADAPTER_FAIL;
}

/* A refusal (RDP_NEG_FAILURE) and its fix. */
static enum adapter_verdict refused(struct adapter *a, const struct x224_cc *cc, const char **why)
{
	switch (cc->failure_code) {
	case X224_HYBRID_REQUIRED_BY_SERVER:
		return fail_nla(a, "answered HYBRID_REQUIRED_BY_SERVER", why);
	case X224_SSL_CERT_NOT_ON_SERVER:
		a->fix = fix_cert;
		break;
	case X224_SSL_NOT_ALLOWED_BY_SERVER:
		a->fix = a->mode == MD9_SEC_TLS || a->require_tls ? fix_tls
		         : a->mode == MD9_SEC_AUTO                ? NULL
		                                                  : fix_auto;
		break;
	default:
		a->fix = a->mode == MD9_SEC_TLS || a->require_tls ? fix_tls : fix_auto;
		break;
	}
	a->cause = ADAPTER_CAUSE_MODE;
	snprintf(a->why_buf, sizeof(a->why_buf), "the server refused %s: %s",
	         x224_protocol_name(a->asked), x224_failure_name(cc->failure_code));
	*why = a->why_buf;
	/* A host that sent no RDP_NEG_REQ cannot be given an RDP_NEG_FAILURE
	 * (MS-RDPBCGR 3.3.5.3.2): it just sees the session end. */
	return a->host_neg_req ? ADAPTER_REFUSED : ADAPTER_FAIL;
}

enum adapter_verdict adapter_on_cc(struct adapter *a, const struct x224_cc *cc, const char **why)
{
	a->fix = NULL;
	a->cause = ADAPTER_CAUSE_MODE;
	if (cc->has_neg && cc->neg_type == X224_TYPE_RDP_NEG_FAILURE) {
		a->failure_code = cc->failure_code;
		/* SSL_NOT_ALLOWED_BY_SERVER (2): a server set to standard RDP
		 * security only; auto asks again for that. */
		if (a->mode == MD9_SEC_AUTO && !a->require_tls && !a->retried &&
		    cc->failure_code == X224_SSL_NOT_ALLOWED_BY_SERVER) {
			a->retried = true;
			return ADAPTER_RETRY_RDP;
		}
		return refused(a, cc, why);
	}
	a->selected = cc->has_neg ? cc->selected_protocol : X224_PROTOCOL_RDP;
	if (nla_selected(a->selected)) {
		char what[64];
		snprintf(what, sizeof(what), "selected %s", x224_protocol_name(a->selected));
		return fail_nla(a, what, why);
	}
	switch (a->mode) {
	case MD9_SEC_PASSTHROUGH:
		return ADAPTER_PLAIN;
	case MD9_SEC_RDP:
		if (a->selected != X224_PROTOCOL_RDP) {
			*why = "the server selected an enhanced security protocol although md9 asked for standard RDP security";
			a->fix = fix_auto;
			return ADAPTER_FAIL;
		}
		return ADAPTER_PLAIN;
	case MD9_SEC_TLS:
		if (a->selected != X224_PROTOCOL_SSL) {
			*why = "the server did not select TLS, which --security tls requires";
			a->fix = fix_tls;
			return ADAPTER_FAIL;
		}
		return ADAPTER_TLS;
	case MD9_SEC_AUTO:
		if (a->selected == X224_PROTOCOL_SSL)
			return ADAPTER_TLS;
		if (a->selected == X224_PROTOCOL_RDP && a->require_tls) {
			*why = "the server selected standard RDP security, but tls_pin requires "
			       "TLS to check its certificate";
			a->fix = fix_tls;
			return ADAPTER_FAIL;
		}
		if (a->selected == X224_PROTOCOL_RDP)
			return ADAPTER_PLAIN;
		*why = "the server selected a protocol md9 did not ask for";
		a->cause = ADAPTER_CAUSE_PROTOCOL;
		return ADAPTER_FAIL;
	}
	*why = "unknown security mode";
	return ADAPTER_FAIL;
}

int adapter_cc_for_host(const struct adapter *a, const uint8_t *cc, size_t len, uint8_t *out,
                        size_t cap, size_t *out_len, const char **why)
{
	if (!a->host_neg_req)
		return x224_legacy_cc(cc, len, out, cap, out_len, why);
	if (len > cap) {
		*why = "Connection Confirm larger than the buffer";
		return -1;
	}
	memmove(out, cc, len);
	*out_len = len;
	return 0;
}

/* passthrough with SSL selected: the host's plaintext only works with a
 * server in vmconnect mode. */
static bool needs_vmconnect(const struct adapter *a)
{
	return a->mode == MD9_SEC_PASSTHROUGH && a->selected == X224_PROTOCOL_SSL;
}

const char *adapter_no_connect_response(struct adapter *a)
{
	a->cause = ADAPTER_CAUSE_PROTOCOL;
	if (needs_vmconnect(a)) {
		a->fix = fix_vmconnect;
		a->cause = ADAPTER_CAUSE_NO_VMCONNECT;
		return "passthrough: the server selected SSL and did not answer the host's "
		       "plaintext "
		       "Connect-Initial: it has no vmconnect mode";
	}
	a->fix = NULL;
	return "the server did not answer the MCS Connect-Initial with a Connect-Response";
}

enum adapter_verdict adapter_on_server_pdu(struct adapter *a, const uint8_t *pdu, size_t len,
                                           const char **why)
{
	struct mcs_connect_response r;
	const char *perr = NULL;

	a->fix = NULL;
	a->cause = ADAPTER_CAUSE_PROTOCOL;
	if (!mcs_is_connect_response(pdu, len)) {
		*why = adapter_no_connect_response(a);
		return ADAPTER_REFUSED;
	}
	if (mcs_parse_connect_response(pdu, len, &r, &perr) < 0) {
		snprintf(a->why_buf, sizeof(a->why_buf),
		         "malformed MCS Connect-Response from the server: %s", perr);
		*why = a->why_buf;
		return ADAPTER_FAIL;
	}
	if (r.result != 0) {
		snprintf(a->why_buf, sizeof(a->why_buf),
		         "the server refused the MCS Connect-Initial (T.125 result %u)", r.result);
		a->cause = ADAPTER_CAUSE_MODE;
		*why = a->why_buf;
		return ADAPTER_REFUSED;
	}
	if (r.encryption_method != MCS_ENCRYPTION_METHOD_NONE ||
	    r.encryption_level != MCS_ENCRYPTION_LEVEL_NONE) {
		snprintf(a->why_buf, sizeof(a->why_buf),
		         "the server encrypts with standard RDP security (encryptionMethod %s, "
		         "encryptionLevel %s), which the Hyper-V host cannot do",
		         mcs_encryption_method_name(r.encryption_method),
		         mcs_encryption_level_name(r.encryption_level));
		a->fix = fix_encrypts;
		a->cause = ADAPTER_CAUSE_ENCRYPTS;
		*why = a->why_buf;
		return ADAPTER_FAIL;
	}
	return ADAPTER_PLAIN;
}

int adapter_fix_connect_initial(struct adapter *a, uint8_t *pdu, size_t len, const char **why)
{
	uint32_t old = 0;
	int rc = mcs_set_server_selected_protocol(pdu, len, a->selected, &old, why);

	if (rc < 0)
		return -1;
	if (rc == 0)
		log_debug("Connect-Initial has no serverSelectedProtocol field; unchanged");
	else if (old != a->selected)
		log_debug("serverSelectedProtocol %u -> %u", old, a->selected);
	return 0;
}
