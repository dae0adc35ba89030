/* How the busy sessions of one daemon share md9's time with interactive
 * ones. A session that uses up its relay budget is queued for another turn
 * (daemon.c) and the loop serves whatever arrived between two turns. While
 * some session carries interactive traffic (a pass that moved at most
 * SESSION_INTERACTIVE_PASS bytes and left nothing behind, in the last
 * PACE_INTERACTIVE_HOLD_NS), a turn is at most PACE_SHORT_TURN bytes and
 * the events of bulk sessions wait for their turn, so a keystroke waits
 * behind at most one short turn: docs/performance.md has the measurements
 * (ping p50 beside 4 saturating sessions, and what a 16-32 KiB turn costs
 * bulk when it is always short). After interactive traffic the loop polls
 * for PACE_SPIN_NS before it sleeps (pace_spin); with none it sleeps at
 * once, so an idle md9 uses no CPU. */
#ifndef MD9_PACE_H
#define MD9_PACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes per direction in one turn while some session is interactive. */
#define PACE_SHORT_TURN (32u << 10)
/* How long a session counts as interactive after its last small pass:
 * longer than the gap between the keystrokes or pings of a person at work. */
#define PACE_INTERACTIVE_HOLD_NS 100000000ull

/* After interactive traffic md9 looks for the answer this long before it
 * sleeps: the server's reply to a small message usually comes back within
 * it (a loopback round trip to the server is 15-20 us here), and a process
 * that has not slept needs no wake-up, which in a VM is a halted vCPU woken
 * through the hypervisor. Measured (A/B, 2 x 3 rounds): md9's added round
 * trip p50 14-15 -> 0-5 us, p99 71 -> 10-25 us, its CPU per round trip
 * 13-19 -> 13-28 us (docs/performance.md). Bounded, and only after interactive traffic. */
#define PACE_SPIN_NS 50000ull

struct pace {
	uint64_t interactive_until_ns; /* CLOCK_MONOTONIC; 0: never */
	uint64_t spin_until_ns;        /* keep polling until then */
};

/* Some session had interactive traffic in the last PACE_INTERACTIVE_HOLD_NS. */
bool pace_interactive(const struct pace *p);
/* A session just had interactive traffic. */
void pace_note_interactive(struct pace *p);
/* Keep polling (instead of sleeping) a little longer? */
bool pace_spin(const struct pace *p);
/* The budget of the next turn: relay_budget, or PACE_SHORT_TURN (if smaller)
 * while some session is interactive. p may be NULL: relay_budget. */
size_t pace_budget(const struct pace *p, size_t relay_budget);

#endif
