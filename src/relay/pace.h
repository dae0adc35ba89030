/* How the busy sessions of one daemon share md9's time with interactive
 * ones. A session that uses up its relay budget is queued for another turn
 * (daemon.c) and the loop serves whatever arrived between two turns. While
 * some session carries interactive traffic (a pass that moved at most
 * SESSION_INTERACTIVE_PASS bytes and left nothing behind, in the last
 * PACE_INTERACTIVE_HOLD_NS), a turn is at most PACE_SHORT_TURN bytes and
 * the events of bulk sessions wait for their turn, so a keystroke waits
 * behind at most one short turn: docs/performance.md has the measurements
 * (ping p50 beside 4 saturating sessions, and what a 16-32 KiB turn costs
 * bulk when it is always short). */
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
 * sleeps: the reply to a keystroke usually comes back within it, and a vCPU
 * that does not halt is woken without the hypervisor (docs/performance.md).
 * Bounded, and only after interactive traffic: an idle md9 sleeps. */
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
