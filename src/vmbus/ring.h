/* VMBus ring buffers, one direction each (protocol.md §4; Linux
 * include/linux/hyperv.h struct hv_ring_buffer, drivers/hv/ring_buffer.c;
 * DPDK drivers/bus/vmbus/vmbus_bufring.c).
 *
 * A ring is one control page followed by the data area. The same code runs on
 * both sides: the guest writes its TX ring and reads its RX ring; md9-hostsim
 * does the opposite on the same memory.
 *
 * Invariants:
 *  - indices are byte offsets into the data area, < size, multiples of 8;
 *  - empty <=> read_index == write_index; a writer needs strictly more free
 *    bytes than it writes, so writing never makes the indices equal;
 *  - a packet is a 16-byte descriptor, payload, padding to 8, and an 8-byte
 *    trailer not counted in len8 (upper 32 bits: the write index the packet
 *    started at, as Linux writes it);
 *  - only the writer stores write_index and pending_send_sz; only the reader
 *    stores read_index and interrupt_mask.
 */
#ifndef MD9_RING_H
#define MD9_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Control page, offsets fixed by the Hyper-V ABI. */
struct vmbus_ring_ctl {
	uint32_t write_index;     /* 0 */
	uint32_t read_index;      /* 4 */
	uint32_t interrupt_mask;  /* 8: set by the reader: non-zero = do not signal me */
	uint32_t pending_send_sz; /* 12: set by a blocked writer */
	uint32_t reserved[12];    /* 16 */
	uint32_t feature_bits;    /* 64: bit 0 = this ring's writer uses pending_send_sz */
};

#define VMBUS_RING_FEAT_PENDING_SEND_SZ 1u

/* Descriptor types (include/linux/hyperv.h enum vmbus_packet_type). */
#define VMBUS_PKT_DATA_INBAND 6
#define VMBUS_PKT_COMP        11
#define VMBUS_PKT_DESC_LEN    16
#define VMBUS_PKT_TRAILER_LEN 8
/* Flag asking the receiver for a completion; md9's channels never use it. */
#define VMBUS_PKT_FLAG_COMPLETION_REQUESTED 1

struct vmbus_ring {
	struct vmbus_ring_ctl *ctl;
	uint8_t *data;
	uint32_t size; /* bytes in the data area */

	/* Reader state (private to the side that reads this ring). */
	uint32_t rd;      /* next unread byte; published to read_index by read_commit */
	uint32_t rd_pub;  /* last published read_index */
	uint32_t wr_snap; /* writer's write_index as last loaded and validated */

	/* Writer state (private to the side that writes this ring). */
	uint32_t wr;     /* next byte to write; published to write_index by write_commit */
	uint32_t wr_pub; /* last published write_index */

	/* Set when the other side stored an impossible index: the channel is
	 * unusable and must be closed. */
	const char *broken;
};

/* One validated packet, as seen by the reader. */
struct vmbus_pkt {
	uint16_t type;
	uint16_t flags;
	uint64_t xid;
	uint32_t start;       /* ring offset of the descriptor */
	uint32_t payload;     /* ring offset of the payload (descriptor + offset8*8) */
	uint32_t payload_len; /* len8*8 - offset8*8: payload and its padding */
	uint32_t next;        /* ring offset of the following packet */
};

/* Bind a ring to memory: ctl is the control page, data follows at
 * ctl + page_size, data_size bytes. data_size must be a non-zero multiple of
 * 8 below 2^31. Both sides call it; it only loads the current indices. */
int vmbus_ring_attach(struct vmbus_ring *r, void *ctl_page, size_t page_size, size_t data_size);
/* Writer side, once per channel open: announce pending_send_sz support. */
void vmbus_ring_writer_init(struct vmbus_ring *r);
/* Host side only (the ring's allocator): zero the control page. */
void vmbus_ring_reset(struct vmbus_ring *r);

/* ---- reader ---- */

/* Load the writer's index. Returns bytes readable from rd, or -EBADMSG when
 * the index is out of range (*why set). */
long vmbus_ring_readable(struct vmbus_ring *r, const char **why);
/* Validate the packet at offset `at` against the last loaded write index.
 * 0: *pkt filled; -EAGAIN: `at` is the end of the written data; -EBADMSG:
 * corrupt descriptor (*why says which rule broke). Never reads outside the
 * ring, whatever the other side wrote. */
int vmbus_ring_peek(const struct vmbus_ring *r, uint32_t at, struct vmbus_pkt *pkt,
		    const char **why);
/* Copy n bytes starting at ring offset off (wrapping). */
void vmbus_ring_copy_out(const struct vmbus_ring *r, uint32_t off, void *dst, size_t n);
/* Describe n bytes at ring offset off as up to 2 iovecs; returns the count. */
int vmbus_ring_iov(const struct vmbus_ring *r, uint32_t off, uint32_t n, struct iovec iov[2]);
/* Publish rd as read_index. Returns true when the writer must be signalled:
 * it announced pending_send_sz and free space crossed it with this commit
 * (was <= pending_send_sz, now >). */
bool vmbus_ring_read_commit(struct vmbus_ring *r);
/* Bytes read but not yet published by read_commit. */
uint32_t vmbus_ring_unpublished_read(const struct vmbus_ring *r);
/* Reader's interrupt mask: mask while draining; unmask returns true when data
 * arrived meanwhile (drain again: the writer only signals on empty->non-empty,
 * so sleeping now would lose the wake-up). */
void vmbus_ring_mask(struct vmbus_ring *r);
bool vmbus_ring_unmask(struct vmbus_ring *r);

/* One drain of a reader's ring, the whole rule in one place: mask, call
 * drain(arg) until it has read what it wants, then, when it wants the
 * writer's next signal, unmask and drain again if data arrived meanwhile.
 * drain returns <0 to stop at once (its reader may be gone with the ring:
 * r is not touched again), 0 when it wants to sleep until the next signal,
 * >0 when it will not read more for now (the ring stays masked: the writer
 * does not signal; the reader drains again when it wants to). Returns <0
 * when drain did, else 0. */
int vmbus_ring_drain(struct vmbus_ring *r, int (*drain)(void *arg), void *arg);

/* ---- writer ---- */

/* Free bytes as the writer sees them now (reloads read_index). */
uint32_t vmbus_ring_writable(struct vmbus_ring *r);
/* Largest payload one packet can carry now, 0 when even an empty one would not fit. */
uint32_t vmbus_ring_max_payload(struct vmbus_ring *r);
/* Bytes a packet with this payload occupies (descriptor, padding, trailer). */
static inline uint32_t vmbus_pkt_total(uint32_t payload_len)
{
	return VMBUS_PKT_DESC_LEN + ((payload_len + 7u) & ~7u) + VMBUS_PKT_TRAILER_LEN;
}
/* Zero-copy write: iov (up to 2) describes where payload_len bytes of the next
 * packet go. The caller fills them, then calls write_put with the final
 * length (<= the reserved one). Returns 0, -EAGAIN when the packet does not
 * fit now, or -EMSGSIZE when it never could (len8 is 16 bits). */
int vmbus_ring_write_reserve(struct vmbus_ring *r, uint32_t payload_len, struct iovec iov[2],
			     int *niov);
void vmbus_ring_write_put(struct vmbus_ring *r, uint32_t payload_len, uint64_t xid);
/* Copying write of one in-band packet from iovecs; -EAGAIN when it does not fit. */
int vmbus_ring_write(struct vmbus_ring *r, const struct iovec *iov, int iovcnt, uint64_t xid);
/* Publish everything put since the last commit. Returns true when the reader
 * must be signalled: its interrupt_mask is clear and the ring was empty before
 * this batch (Linux hv_signal_on_write). */
bool vmbus_ring_write_commit(struct vmbus_ring *r);
/* Bytes put but not yet published by write_commit. */
uint32_t vmbus_ring_unpublished_write(const struct vmbus_ring *r);
/* Writer blocked: ask the reader to signal once more than `need` bytes are
 * free. Returns true if that is already so (the reader may have freed space
 * before seeing the request): clear it and retry at once. Everything put
 * must be committed before: the reader counts free space against the
 * published write_index, so unpublished bytes that fill the ring for the
 * writer do not for the reader, whose reads then never cross `need`. */
bool vmbus_ring_write_wait(struct vmbus_ring *r, uint32_t need);
void vmbus_ring_write_unwait(struct vmbus_ring *r);

#endif
