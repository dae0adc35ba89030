/* A VMBus ring in memory for the ring and pipe tests (test_ring_*.c,
 * test_pipe_*.c), protocol.md §4.
 *
 * The ring lives in a memfd mapped twice, once for the writer's view and
 * once for the reader's, as the guest and md9-hostsim see the same pages at
 * different addresses. The data area ends at the end of the memfd and the
 * page after each mapping is PROT_NONE, so reading past the data area
 * faults. Raw checks go through the reader's mapping with the test's own
 * wrap-around code, not ring.c's. */
#ifndef MD9_TESTS_RING_FIXTURE_H
#define MD9_TESTS_RING_FIXTURE_H

#include "ring.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTL_PAGE 4096u
#define FILL     0xaa /* every data byte after rbuf_reset */

struct rbuf {
	int memfd;
	size_t file_len;
	uint8_t *map[2]; /* [0] the writer's process, [1] the reader's */
	size_t map_len;
	uint32_t size;
	struct vmbus_ring_ctl *ctl; /* the control page, in the reader's mapping */
	uint8_t *data;              /* the data area, in the reader's mapping */
	uint8_t *wdata;             /* the data area, in the writer's mapping */
	struct vmbus_ring w;        /* writer's view, on map[0] */
	struct vmbus_ring r;        /* reader's view, on map[1] */
};

/* The control page as view 0 (writer) or 1 (reader) maps it. */
uint8_t *ctl_page(const struct rbuf *b, int view);
void rbuf_new(struct rbuf *b, uint32_t size);
void rbuf_free(struct rbuf *b);
/* Fresh control page with both indices at `start`, data filled with FILL,
 * both views attached. feature: the writer announces pending_send_sz. */
void rbuf_reset(struct rbuf *b, uint32_t start, bool feature);

/* The test's own wrapping accessors of the data area. */
void raw_get(const struct rbuf *b, uint32_t off, void *dst, size_t n);
void raw_put(const struct rbuf *b, uint32_t off, const void *src, size_t n);

/* A packet descriptor as the test reads and writes it. */
struct raw_desc {
	uint16_t type, offset8, len8, flags;
	uint64_t xid;
};

void raw_desc_put(const struct rbuf *b, uint32_t at, uint16_t type, uint16_t offset8,
                  uint16_t len8);

/* Byte i of the payload of packet `seed` (the ring tests' packets). */
uint8_t pattern(uint32_t seed, uint32_t i);
/* Write one packet of `len` pattern bytes through the copying or the
 * zero-copy path; 0 or what the ring answered (-EAGAIN, -EMSGSIZE). */
int put_packet(struct vmbus_ring *w, uint32_t len, uint32_t seed, uint64_t xid, bool zc);
/* Reader: take k packets (each must validate), publish nothing. */
void reader_take(struct rbuf *b, int k);
/* 512-byte ring, 32-byte packets (payload 8): 15 fit, leaving 32 free. */
void fill_32s(struct rbuf *b);

static inline uint32_t pad8(uint32_t n)
{
	return (n + 7u) & ~7u;
}

#endif
