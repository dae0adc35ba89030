/* The host's end of one simulated VMBus channel: the ring pair in a memfd
 * (laid out as uio_hv_generic's map 0: TX ring then RX ring, each a control
 * page plus data) and an eventfd doorbell in each direction. The host reads
 * the guest's TX ring and writes its RX ring with the same ring.c/pipe.c code
 * the guest runs. */
#ifndef HOSTSIM_HOSTCHAN_H
#define HOSTSIM_HOSTCHAN_H

#include "pipe.h"

#include <stddef.h>

struct hostchan {
	int memfd;
	void *map;
	size_t map_len;
	size_t page_size;
	struct vmbus_ring tx; /* guest -> host: the host reads it */
	struct vmbus_ring rx; /* host -> guest: the host writes it */
	struct pipe_rx in;
	struct pipe_tx out;
	int to_guest;   /* eventfd: host rings the guest */
	int from_guest; /* eventfd: guest rings the host */
};

/* ring_size: bytes per direction including its control page; a multiple of
 * the page size and at least two pages. */
struct hostchan *hostchan_new(size_t ring_size);
void hostchan_free(struct hostchan *hc);
/* Ring the guest's doorbell. */
void hostchan_signal(struct hostchan *hc);
/* Consume the guest's doorbell (after from_guest became readable). */
void hostchan_ack(struct hostchan *hc);

#endif
