/* VMBus pipe framing over a ring pair (protocol.md §5): every in-band
 * packet's payload starts with { u32 type; u32 data_size } and data_size bytes
 * follow. Type 1 is data; type 2 ("partial") is reader bookkeeping that the
 * other end never sends, so md9 keeps its partial-read position here, in
 * private memory, and never writes into the host's ring. At most 16384 data
 * bytes per packet. The pipe is a byte stream: packet boundaries mean nothing
 * to RDP.
 *
 * End of stream: a data packet with data_size 0 means the writer will send
 * nothing more, like TCP's FIN (OpenVMM vm/devices/vmbus/vmbus_async/src/
 * pipe.rs: "A zero-byte packet indicates EOF", written by shutdown_writes;
 * Linux net/vmw_vsock/hyperv_transport.c: hvs_shutdown sends one,
 * hvs_channel_readable_payload reads one as shutdown). The reader delivers
 * every byte before it, then reports eof and reads nothing after it. */
#ifndef MD9_PIPE_H
#define MD9_PIPE_H

#include "ring.h"

#include <sys/types.h>

#define PIPE_TYPE_DATA    1u
#define PIPE_TYPE_PARTIAL 2u
#define PIPE_HDR_LEN      8u
#define PIPE_MAX_DATA     16384u

struct pipe_rx {
	struct vmbus_ring *ring;
	uint32_t consumed; /* data bytes of the packet at ring->rd already consumed */
	const char *error; /* set once the stream is corrupt; sticky */
	bool eof;          /* the end-of-stream packet was consumed; sticky */
};

struct pipe_tx {
	struct vmbus_ring *ring;
	uint32_t reserved; /* data capacity of the current reservation, 0 = none */
};

void pipe_rx_init(struct pipe_rx *p, struct vmbus_ring *ring);
void pipe_tx_init(struct pipe_tx *p, struct vmbus_ring *ring);

/* Describe up to `max` readable data bytes, starting at the first unconsumed
 * byte and walking up to `maxiov` iovecs' worth of packets, without copying.
 * Returns the byte count (0 = nothing readable), or -EBADMSG (p->error says
 * why). Reloads the writer's index. Stops at an end-of-stream packet; once
 * everything before it is consumed, it consumes that packet, sets p->eof and
 * returns 0 from then on. */
ssize_t pipe_rx_peekv(struct pipe_rx *p, struct iovec *iov, int maxiov, int *niov, size_t max);
/* Mark n bytes consumed; n must not exceed what the last peekv described.
 * Fully consumed packets are released (locally; see pipe_rx_commit). */
void pipe_rx_consume(struct pipe_rx *p, size_t n);
/* Message-oriented read, for channels where each pipe packet is one message
 * (the SynthRdp control channel): copy up to cap bytes of the head packet's
 * data, consume the whole packet. Returns the packet's data length (may
 * exceed cap: the rest is dropped), 0 when none, or -EBADMSG. */
ssize_t pipe_rx_packet(struct pipe_rx *p, void *buf, size_t cap);
/* Copying read of up to n bytes: peekv + copy + consume. */
ssize_t pipe_rx_read(struct pipe_rx *p, void *buf, size_t n);
/* Publish released packets to the writer; true = signal it (pending_send_sz). */
static inline bool pipe_rx_commit(struct pipe_rx *p)
{
	return vmbus_ring_read_commit(p->ring);
}

/* Reserve room for one pipe packet with up to `max` (<= PIPE_MAX_DATA) data
 * bytes: iov points into ring memory. Returns the capacity, 0 when the ring
 * cannot take even one byte now. */
size_t pipe_tx_reserve(struct pipe_tx *p, size_t max, struct iovec iov[2], int *niov);
/* Finish the reservation with n (<= capacity) bytes; n == 0 drops it. */
void pipe_tx_put(struct pipe_tx *p, size_t n);
/* Copying write, split into packets of <= PIPE_MAX_DATA; returns the bytes
 * taken (short when the ring fills). */
size_t pipe_tx_write(struct pipe_tx *p, const void *buf, size_t n);
/* Write the end-of-stream packet (data_size 0). False when the ring has no
 * room for it now (pipe_tx_wait(p, 0), then try again). */
bool pipe_tx_eof(struct pipe_tx *p);
/* Publish; true = signal the reader. */
static inline bool pipe_tx_commit(struct pipe_tx *p)
{
	return vmbus_ring_write_commit(p->ring);
}
/* Ring full: ask the reader for a signal once a packet of `min_data` bytes
 * fits. True = it fits already, retry now. Commit everything put first: the
 * reader measures free space against the published write index. */
bool pipe_tx_wait(struct pipe_tx *p, size_t min_data);

#endif
