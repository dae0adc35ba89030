/* md9-hostsim fault injection: what a misbehaving or hostile Hyper-V host
 * can do to md9, each triggered by a command (--commands, one per line on
 * standard input) or a flag, never by timing:
 *
 *   rescind-data all|last|GUID   rescind data channel(s), mid-transfer or not
 *   corrupt KIND [last|GUID|control]
 *                                write a malformed packet (or index) into the
 *                                host->guest ring of the most recent (or named)
 *                                data channel, or of the control channel; the
 *                                host then writes nothing more on that channel.
 *                                KIND: offset8 (< 2), len8 (beyond the readable
 *                                bytes), type (unknown descriptor type),
 *                                type-comp (a completion packet), pipe-len
 *                                (data_size beyond the packet), pipe-type
 *                                (pipe type 2), truncated (fewer bytes than a
 *                                descriptor), write-index (out of range),
 *                                write-index-unaligned, read-index (the host's
 *                                read_index of the guest's TX ring out of range)
 *   stall on|off [GUID]          stop / resume reading the guest's TX ring (all
 *                                data channels, or one instance)
 *   stall after N                every data channel, the ones opened later
 *                                included, stops reading the guest's TX ring
 *                                once it has passed N bytes to its client (the
 *                                negotiation's included); 0 or stall off: no
 *                                limit. Set before a session starts, the ring
 *                                fills at a known point, whatever the timing.
 *   burst on|off [GUID]          write client bytes in tiny packets (1..64
 *                                bytes, never empty: that is end of stream) and
 *                                refill at once, so the guest's RX ring stays
 *                                full of packets
 *   eof on|off [GUID]            a client's FIN becomes the pipe's end of stream
 *                                (a zero-length data packet, docs/uio.md K9)
 *                                and the guest's bytes go on to the client;
 *                                off: a client's FIN closes the channel
 *   ctrl-send error|unknown|short|version-response|create-unoffered|huge
 *                                an unexpected control message at any time
 *   version-reply R              answer the next VersionRequests with R
 *                                (hostctl.h: accept, reject, malformed, silent,
 *                                error, unknown, short, twice, create-first)
 *   status                       print one "status ..." line per open channel
 *                                (ring indices, pending_send_sz, interrupt
 *                                masks) on standard output, then "status end"
 *
 * and the flag --instances N (hostctl_set_instances).
 *
 * front.c's pump asks fault_* below what to do on each wake-up. */
#ifndef HOSTSIM_FAULT_H
#define HOSTSIM_FAULT_H

#include "hostctl.h"
#include "relay.h"
#include "stream.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void fault_init(struct hostctl *ctl);
/* A command line: 1 handled, 0 not a fault command, -1 bad arguments (logged). */
int fault_command(const char *line);

/* ---- pump hooks (front.c) ---- */

/* The host must not read the guest's TX ring now (stall). */
bool fault_stalled(struct hostchan *hc);
/* How many more bytes of the guest's TX ring the host may pass to the client
 * that has had `passed` (stall after N): SIZE_MAX when there is no limit. */
size_t fault_stall_room(uint64_t passed);
/* A corruption was injected: the host moves nothing on this channel any more. */
bool fault_frozen(struct hostchan *hc);
/* Burst mode is on for this channel: use fault_burst_fill for client -> guest. */
bool fault_burst(struct hostchan *hc);
/* A client's FIN is passed to the guest as end of stream (half-close). */
bool fault_eof(struct hostchan *hc);
/* client -> guest in tiny packets until the ring or the client runs dry. */
struct relay_result fault_burst_fill(struct hostchan *hc, struct md9_stream *client);

#endif
