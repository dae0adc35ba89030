/* The simulated bus between md9 (transport_sim.c) and md9-hostsim
 * (hostsim/simbus.c). SOCK_SEQPACKET, one message per packet, native
 * endianness (both ends are on this machine). It stands in for what the
 * Linux kernel and Hyper-V do out of band: device offers, rescinds and the
 * channel open/close handshake. It carries no data bytes: those go through
 * the rings in the shared memory whose fd comes with SIM_OPENED.
 *
 * Shared memory layout of a channel, as uio_hv_generic's map 0
 * (protocol.md §6): TX ring (guest->host) control page + data, then the
 * RX ring (host->guest) control page + data; each half of the map. */
#ifndef MD9_SIMPROTO_H
#define MD9_SIMPROTO_H

#include "guid.h"

#include <stdint.h>

#define SIM_PROTO_VERSION 1

enum sim_msg_type {
	SIM_HELLO = 1,   /* guest -> host: version; host answers with SIM_OFFERs */
	SIM_OFFER = 2,   /* host -> guest: device present */
	SIM_RESCIND = 3, /* host -> guest: device gone */
	SIM_OPEN = 4,    /* guest -> host: open the device with this instance */
	SIM_OPENED = 5,  /* host -> guest: status; fds: [memfd, host->guest eventfd, guest->host eventfd] */
	SIM_CLOSE = 6,   /* guest -> host: the guest closed the channel */
};

struct sim_msg {
	uint32_t type;
	uint32_t version;       /* SIM_HELLO */
	int32_t status;         /* SIM_OPENED: 0 or -errno */
	uint32_t page_size;     /* SIM_OPENED: size of each ring's control page */
	uint64_t ring_size;     /* SIM_OPENED: bytes per ring, control page included */
	struct md9_guid class_id;
	struct md9_guid instance;
};

#endif
