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
		*why = out->type == CTRL_ERROR ? "control error message"
		                               : "unknown control message type";
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

/* The header every control message starts with: type, then size. */
static void put_header(uint8_t *out, uint32_t type, uint32_t size)
{
	wr32le(out, type);
	wr32le(out + 4, size);
}

/* VersionRequest and VersionResponse share their first 16 bytes: the
 * header, the version and a reserved zero. */
static void put_version(uint8_t *out, uint32_t type, uint32_t size, uint32_t version)
{
	put_header(out, type, size);
	wr32le(out + 8, version);
	wr32le(out + 12, 0);
}

size_t ctrl_encode_version_request(uint8_t out[CTRL_VERSION_REQUEST_LEN], uint32_t version,
                                   uint32_t size_field)
{
	put_version(out, CTRL_VERSION_REQUEST, size_field, version);
	return CTRL_VERSION_REQUEST_LEN;
}

size_t ctrl_encode_version_response(uint8_t out[CTRL_VERSION_RESPONSE_LEN], uint32_t version,
                                    uint8_t is_accepted)
{
	put_version(out, CTRL_VERSION_RESPONSE, CTRL_VERSION_RESPONSE_LEN, version);
	out[16] = is_accepted;
	return CTRL_VERSION_RESPONSE_LEN;
}

size_t ctrl_encode_create_session(uint8_t out[CTRL_CREATE_SESSION_LEN],
                                  const struct md9_guid *session)
{
	put_header(out, CTRL_CREATE_SESSION, CTRL_CREATE_SESSION_LEN);
	memcpy(out + 8, session->b, 16);
	return CTRL_CREATE_SESSION_LEN;
}
