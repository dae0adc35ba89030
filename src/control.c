#include "control.h"

#include <string.h>

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
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
	out->type = get32(buf);
	out->size = get32(buf + 4);
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
		out->version = get32(buf + 8);
		break;
	case CTRL_VERSION_RESPONSE:
		out->version = get32(buf + 8);
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
	put32(out, CTRL_VERSION_REQUEST);
	put32(out + 4, size_field);
	put32(out + 8, version);
	put32(out + 12, 0);
	return CTRL_VERSION_REQUEST_LEN;
}

size_t ctrl_encode_version_response(uint8_t out[CTRL_VERSION_RESPONSE_LEN], uint32_t version,
				    uint8_t is_accepted)
{
	put32(out, CTRL_VERSION_RESPONSE);
	put32(out + 4, CTRL_VERSION_RESPONSE_LEN);
	put32(out + 8, version);
	put32(out + 12, 0);
	out[16] = is_accepted;
	return CTRL_VERSION_RESPONSE_LEN;
}

size_t ctrl_encode_create_session(uint8_t out[CTRL_CREATE_SESSION_LEN],
				  const struct md9_guid *session)
{
	put32(out, CTRL_CREATE_SESSION);
	put32(out + 4, CTRL_CREATE_SESSION_LEN);
	memcpy(out + 8, session->b, 16);
	return CTRL_CREATE_SESSION_LEN;
}
