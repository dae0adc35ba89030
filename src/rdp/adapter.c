#include "adapter.h"

#include "log.h"
#include "mcs.h"

#include <string.h>

static const char *const names[] = {
	[MD9_SEC_AUTO] = "auto",
	[MD9_SEC_TLS] = "tls",
	[MD9_SEC_RDP] = "rdp",
	[MD9_SEC_PASSTHROUGH] = "passthrough",
};

const char *md9_security_name(enum md9_security s)
{
	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

int md9_security_parse(const char *s, enum md9_security *out)
{
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum md9_security)i;
			return 0;
		}
	}
	return -1;
}

void adapter_init(struct adapter *a, enum md9_security mode)
{
	memset(a, 0, sizeof(*a));
	a->mode = mode;
}

int adapter_rewrite_cr(struct adapter *a, const uint8_t *cr, size_t len, uint8_t *out,
		       size_t cap, size_t *out_len, const char **why)
{
	struct x224_cr req;

	if (x224_parse_cr(cr, len, &req, why) != 1)
		return -1;
	a->host_requested = req.has_neg_req ? req.requested_protocols : X224_PROTOCOL_RDP;
	switch (a->mode) {
	case MD9_SEC_PASSTHROUGH:
		a->asked = a->host_requested;
		if (len > cap) {
			*why = "Connection Request larger than the buffer";
			return -1;
		}
		memcpy(out, cr, len);
		*out_len = len;
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
	return x224_set_requested_protocols(cr, len, a->asked, out, cap, out_len, why);
}

enum adapter_verdict adapter_on_cc(struct adapter *a, const struct x224_cc *cc, const char **why)
{
	if (cc->has_neg && cc->neg_type == 3) {
		a->failure_code = cc->failure_code;
		/* SSL_NOT_ALLOWED_BY_SERVER (2): a server set to standard RDP
		 * security only; auto asks again for that. */
		if (a->mode == MD9_SEC_AUTO && !a->retried && cc->failure_code == 2) {
			a->retried = true;
			return ADAPTER_RETRY_RDP;
		}
		*why = "the server refused the requested security protocol";
		return ADAPTER_REFUSED;
	}
	a->selected = cc->has_neg ? cc->selected_protocol : X224_PROTOCOL_RDP;
	switch (a->mode) {
	case MD9_SEC_PASSTHROUGH:
		return ADAPTER_PLAIN;
	case MD9_SEC_RDP:
		if (a->selected != X224_PROTOCOL_RDP) {
			*why = "the server selected an enhanced security protocol although md9 asked for standard RDP security";
			return ADAPTER_FAIL;
		}
		return ADAPTER_PLAIN;
	case MD9_SEC_TLS:
		if (a->selected != X224_PROTOCOL_SSL) {
			*why = "the server did not select TLS, which --security tls requires (use auto)";
			return ADAPTER_FAIL;
		}
		return ADAPTER_TLS;
	case MD9_SEC_AUTO:
		if (a->selected == X224_PROTOCOL_SSL)
			return ADAPTER_TLS;
		if (a->selected == X224_PROTOCOL_RDP)
			return ADAPTER_PLAIN;
		*why = "the server selected a protocol md9 did not ask for";
		return ADAPTER_FAIL;
	}
	*why = "unknown security mode";
	return ADAPTER_FAIL;
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
