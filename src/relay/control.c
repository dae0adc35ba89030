#include "control.h"

#include "bytes.h"

#include <string.h>

const char *ctrl_state_name(enum ctrl_state s)
{
	static const char *const names[] = {
	    [CTRL_WAIT_OFFER] = "waiting-for-offer",
	    [CTRL_WAIT_READY] = "waiting-for-device",
	    [CTRL_WAIT_VERSION] = "version-exchange",
	    [CTRL_READY] = "ready",
	    [CTRL_BACKOFF] = "backoff",
	};

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

size_t ctrl_msg_len(uint32_t type)
{
	switch (type) {
	case CTRL_VERSION_REQUEST:
		return CTRL_VERSION_REQUEST_LEN;
	case CTRL_VERSION_RESPONSE:
		return CTRL_VERSION_RESPONSE_LEN;
	case CTRL_CREATE_SESSION:
		return CTRL_CREATE_SESSION_LEN;
	default:
		return 0;
	}
}

int ctrl_decode(const uint8_t *buf, size_t len, struct ctrl_msg *out, const char **why)
{
	size_t need;

	memset(out, 0, sizeof(*out));
	if (len < 8) {
		*why = "control message shorter than its header";
		return -1;
	}
	out->type = rd32le(buf);
	out->size = rd32le(buf + 4);
	need = ctrl_msg_len(out->type);
	if (need == 0) {
		*why = out->type == CTRL_ERROR ? "control error message" : "unknown control message type";
		return -1;
	}
	if (len < need) {
		*why = "control message shorter than its type's length";
		return -1;
	}
	switch (out->type) {
	case CTRL_VERSION_REQUEST:
		out->version = rd32le(buf + 8);
		break;
	case CTRL_VERSION_RESPONSE:
		out->version = rd32le(buf + 8);
		out->is_accepted = buf[16];
		break;
	case CTRL_CREATE_SESSION:
		memcpy(out->session.b, buf + 8, 16);
		break;
	}
	return 0;
}

size_t ctrl_encode_version_request(uint8_t out[CTRL_VERSION_REQUEST_LEN], uint32_t version,
				   uint32_t size_field)
{
	wr32le(out, CTRL_VERSION_REQUEST);
	wr32le(out + 4, size_field);
	wr32le(out + 8, version);
	wr32le(out + 12, 0);
	return CTRL_VERSION_REQUEST_LEN;
}

size_t ctrl_encode_version_response(uint8_t out[CTRL_VERSION_RESPONSE_LEN], uint32_t version,
				    uint8_t is_accepted)
{
	wr32le(out, CTRL_VERSION_RESPONSE);
	wr32le(out + 4, CTRL_VERSION_RESPONSE_LEN);
	wr32le(out + 8, version);
	wr32le(out + 12, 0);
	out[16] = is_accepted;
	return CTRL_VERSION_RESPONSE_LEN;
}

size_t ctrl_encode_create_session(uint8_t out[CTRL_CREATE_SESSION_LEN],
				  const struct md9_guid *session)
{
	wr32le(out, CTRL_CREATE_SESSION);
	wr32le(out + 4, CTRL_CREATE_SESSION_LEN);
	memcpy(out + 8, session->b, 16);
	return CTRL_CREATE_SESSION_LEN;
}
