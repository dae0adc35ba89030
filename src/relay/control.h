/* SynthRdp control messages (protocol.md §3; Mile.HyperV headers [S2],
 * rdpcorets.dll notes [S3]). They travel as pipe data (pipe.h) on the control
 * channel, as the public Linux prototype does (SherryPlatform/HvGin,
 * UioHvDevice.Send wraps every message in a pipe header).
 *
 * Header: u32 type; u32 size, little-endian. The header's size field is not
 * reliable (guests send 16 or 0), so it is not used for framing: a message is
 * one pipe packet (HvGin's Receive takes one packet per message), and each
 * type has one fixed length. */
#ifndef MD9_CONTROL_H
#define MD9_CONTROL_H

#include "guid.h"

#include <stddef.h>
#include <stdint.h>

enum ctrl_type {
	CTRL_ERROR = 0,
	CTRL_VERSION_REQUEST = 1,  /* guest -> host, 16 bytes */
	CTRL_VERSION_RESPONSE = 2, /* host -> guest, 17 bytes */
	CTRL_CREATE_SESSION = 3,   /* host -> guest, 24 bytes */
};

#define CTRL_VERSION_REQUEST_LEN  16
#define CTRL_VERSION_RESPONSE_LEN 17
#define CTRL_CREATE_SESSION_LEN   24
#define CTRL_MAX_LEN              24

/* version = major | minor << 16; only 1.0 is known. */
#define CTRL_VERSION_1_0 1u
/* VersionResponse.is_accepted: only 2 ("accepted with version exchange") lets
 * the session protocol go on. */
#define CTRL_ACCEPTED_WITH_VERSION_EXCHANGE 2

/* The guest's side of the control channel (daemon.c runs it; the status
 * snapshot reports it). */
enum ctrl_state {
	CTRL_WAIT_OFFER,   /* the control channel is not offered (yet) */
	CTRL_WAIT_READY,   /* offered, but open() said not ready yet (-EAGAIN) */
	CTRL_WAIT_VERSION, /* version request sent */
	CTRL_READY,        /* version accepted; waiting for CreateSession */
	CTRL_BACKOFF,      /* failed; reopening after a delay */
};

/* "waiting-for-offer", "waiting-for-device", "version-exchange", "ready",
 * "backoff". */
const char *ctrl_state_name(enum ctrl_state s);

struct ctrl_msg {
	uint32_t type;
	uint32_t size;          /* as sent; informational */
	uint32_t version;       /* VERSION_REQUEST / VERSION_RESPONSE */
	uint8_t is_accepted;    /* VERSION_RESPONSE */
	struct md9_guid session; /* CREATE_SESSION: the data channel's instance */
};

/* Fixed length of a message of this type, 0 if the type is unknown. */
size_t ctrl_msg_len(uint32_t type);
/* Decode the message that is one pipe packet's data. 0, or -1 when malformed
 * (*why set). Bytes beyond the type's length are ignored. */
int ctrl_decode(const uint8_t *buf, size_t len, struct ctrl_msg *out, const char **why);
/* Encoders; return the length written. `size_field` is what goes in the
 * header's size (a host must accept 16 and 0). */
size_t ctrl_encode_version_request(uint8_t out[CTRL_VERSION_REQUEST_LEN], uint32_t version,
				   uint32_t size_field);
size_t ctrl_encode_version_response(uint8_t out[CTRL_VERSION_RESPONSE_LEN], uint32_t version,
				    uint8_t is_accepted);
size_t ctrl_encode_create_session(uint8_t out[CTRL_CREATE_SESSION_LEN],
				  const struct md9_guid *session);

#endif
