#include "pace.h"

#include <time.h>

static uint64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

bool pace_interactive(const struct pace *p)
{
	return p && p->interactive_until_ns && mono_ns() < p->interactive_until_ns;
}

void pace_note_interactive(struct pace *p)
{
	if (p)
		p->interactive_until_ns = mono_ns() + PACE_INTERACTIVE_HOLD_NS;
}

size_t pace_budget(const struct pace *p, size_t relay_budget)
{
	if (relay_budget > PACE_SHORT_TURN && pace_interactive(p))
		return PACE_SHORT_TURN;
	return relay_budget;
}
