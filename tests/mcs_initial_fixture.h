/* The client's MCS Connect-Initial for the Connect-Initial tests
 * (test_mcs_initial*.c), assembled field by field with BER (T.125) and
 * ALIGNED PER (T.124) encodings; its default form (seed_opts) reproduces the
 * seed's frame 3 (protocol.md §8): a 462-byte TPKT with clientCoreData (234),
 * clientClusterData, clientSecurityData, clientNetworkData (4 channels),
 * clientMsgChannelData and clientMultiTransportData. Options make the forms
 * other clients send and the malformed ones. */
#ifndef MD9_TESTS_MCS_INITIAL_FIXTURE_H
#define MD9_TESTS_MCS_INITIAL_FIXTURE_H

#include "mcs.h"
#include "rdp_bytes.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ci_opts {
	size_t core_len;         /* TS_UD_CS_CORE length (header included) */
	uint32_t ssp;            /* its serverSelectedProtocol */
	unsigned ber_len_octets; /* 0: shortest form; 1..4: always long form */
	bool per_len_two_octets; /* 10xxxxxx xxxxxxxx even below 128 (rdesktop) */
	bool core_last;          /* core block after the others */
	bool no_core, dup_core;
	bool extra_set_element; /* an OID-keyed user data element before "Duca" */
	bool second_duca;       /* a second "Duca" element (empty value) after it */
	const char *h221_key;   /* default "Duca" */
	/* Cut connectPDU / the whole ConnectData to this many bytes (0 = no
	 * cut; the value is the length + 1), keeping every enclosing length
	 * consistent, so only the PER layer can notice. */
	size_t ccr_cut, gcc_cut;
};

/* The seed's frame 3. */
static const struct ci_opts seed_opts = {.core_len = 234, .ssp = 1};

/* Whole TPKT: TPKT | X.224 DT | BER Connect-Initial; its length. */
size_t build_ci(uint8_t *out, size_t cap, const struct ci_opts *o);
/* Runs the rewrite on an exact-size copy; checks that bytes change only
 * inside the serverSelectedProtocol field and only on success. */
int set_checked(const uint8_t *pdu, size_t n, uint32_t proto, uint32_t *old, const char **why);
/* mcs_parse_connect_initial on an exact-size copy. */
int parse_exact(const uint8_t *pdu, size_t n, struct mcs_connect_initial *ci, const char **why);
/* The rewrite refuses pdu with a reason (printed) and leaves *old alone. */
void expect_malformed(const char *name, const uint8_t *pdu, size_t n);

#endif
