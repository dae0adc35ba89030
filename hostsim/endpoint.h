/* md9-hostsim's host endpoint: sessions whose traffic md9-hostsim makes
 * itself, straight on the data channel's rings, with no front end and no
 * socket on the host side. The measured path is then
 *   md9-hostsim ═ring═ md9 ─TCP─ server
 * three processes, as many as any TCP relay between a client and a server
 * (bench/run, docs/performance.md).
 *
 * Every session plays vmconnect's opening (the X.224 Connection Request,
 * the server's Connection Confirm, a 462-byte MCS Connect-Initial, the
 * server's Connect-Response), then:
 *   source  writes the byte pattern (i * 131 + 7) mod 256 as fast as md9 reads
 *   sink    reads and counts; with window= it measures (below)
 *   echo    writes back what it reads
 *   ping    `size` bytes out, waits for `size` bytes back; warm+count times
 *   idle    holds the session open
 *   hs      opens the session, completes the opening, closes it; count times
 * Sessions open one after the other in the order given; pings start once
 * every session of the endpoint is in its data phase. Output lines on
 * standard output:
 *   endpoint ready N          every session is in its data phase
 *   result {json}             ping: latency percentiles (µs); sink with
 *                             window=: bytes per session and CPU time, the
 *                             format of md9bench (bench/tools/benchstat.h)
 *   hs I T0 T1                hs: session I started at T0, had the
 *                             Connection Confirm at T1 (CLOCK_MONOTONIC ns)
 *
 * SPEC is comma-separated: MODE[:N] items, and options
 *   count=N (ping: round trips, hs: sessions)  warm=N (ping warm-up)
 *   size=B (ping message)  gap=MS (hs pause)  warmup=S  window=S
 *   watch=FILE ("NAME PID" lines whose CPU time the sink reports)
 *   verify (sink/echo check the source's pattern byte for byte)
 *   slow=US (ping: print "slow I T0 RTT" for every round trip of at least
 *   US microseconds, T0 and RTT in ns, to find them in a trace)
 * e.g. "sink:4,warmup=1,window=3" or "ping,sink:4,count=5000". */
#ifndef HOSTSIM_ENDPOINT_H
#define HOSTSIM_ENDPOINT_H

#include "hostctl.h"

/* Parse SPEC and start opening sessions (queued until md9's control channel
 * is ready). -1: bad SPEC (logged). */
int endpoint_start(struct ev_loop *loop, struct hostctl *ctl, const char *spec);
/* End every session (before hostctl_free). */
void endpoint_stop(void);

#endif
