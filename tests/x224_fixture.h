/* X.224 Connection Requests and Confirms for the X.224 tests
 * (test_x224_*.c): the seed's frames, a builder of requests, and parses on
 * exact-size heap copies so that ASan reports any read past len. */
#ifndef MD9_TESTS_X224_FIXTURE_H
#define MD9_TESTS_X224_FIXTURE_H

#include "rdp_bytes.h"
#include "tpkt.h"
#include "x224.h"

#include <stddef.h>
#include <stdint.h>

/* Seed frame 1 (protocol.md §7): RDP_NEG_REQ, requestedProtocols 0x0B. */
extern const uint8_t seed_cr[19];
/* Seed frame 2: RDP_NEG_RSP, flags 0x03, selectedProtocol SSL. */
extern const uint8_t seed_cc[19];

/* Routing tokens and cookies clients send before RDP_NEG_REQ. */
extern const char cookie[];
extern const char msts_token[];
extern const char tsv_token[];

struct vec {
	uint8_t b[300];
	size_t n;
};

int parse_cr_exact(const uint8_t *p, size_t n, struct x224_cr *cr, const char **why);
int parse_cc_exact(const uint8_t *p, size_t n, struct x224_cc *cc, const char **why);
/* Builds a CR: optional token (CR LF appended), optional RDP_NEG_REQ, and
 * correlation info when flags has 0x08. */
void build_cr(struct vec *v, const char *token, int neg, uint8_t flags, uint32_t protocols);

#endif
