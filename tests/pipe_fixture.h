/* A pipe over ring_fixture.h's ring for the pipe tests (test_pipe_*.c):
 * the writer's pipe_tx on the writer's view of the ring, the reader's
 * pipe_rx on the reader's, as md9 and md9-hostsim see a channel. Test
 * streams are made of sbyte(i) so any byte out of place is found. */
#ifndef MD9_TESTS_PIPE_FIXTURE_H
#define MD9_TESTS_PIPE_FIXTURE_H

#include "pipe.h"
#include "ring_fixture.h"

#include <stddef.h>
#include <stdint.h>

struct pbuf {
	struct rbuf ring;
	struct pipe_tx tx;
	struct pipe_rx rx;
};

void pbuf_new(struct pbuf *b, uint32_t size);
void pbuf_free(struct pbuf *b);
/* Empty ring with both indices at start; views attached, pipes initialised. */
void pbuf_reset(struct pbuf *b, uint32_t start);

/* Stream content: byte i of a test stream. */
uint8_t sbyte(uint64_t i);
void sfill(uint8_t *dst, uint64_t pos, size_t n);
/* Fails the test at the first byte that is not sbyte(pos + i). */
void scheck(const uint8_t *src, uint64_t pos, size_t n);
/* xorshift64: the tests' reproducible random numbers. */
uint64_t rng(uint64_t *s);

/* A raw packet as the test parses it (its own code, not ring.c's). */
struct raw_pkt {
	uint16_t type, offset8, len8;
	uint32_t ptype, data_size;
	uint32_t data; /* ring offset of the data */
	uint32_t next;
};

/* Parse the packets between ring offsets from and to (at most max), checking
 * each trailer; returns how many. */
uint32_t raw_walk(const struct pbuf *b, uint32_t from, uint32_t to, struct raw_pkt *out,
                  uint32_t max);
/* Copy everything readable into dst (at most cap bytes), commit. */
size_t drain(struct pbuf *b, uint8_t *dst, size_t cap);
/* One in-band packet with this pipe header and these data bytes, whatever
 * they claim. */
void put_raw_pipe(struct pbuf *b, uint32_t ptype, uint32_t data_size, const void *bytes,
                  uint32_t n);

#endif
