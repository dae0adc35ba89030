#include "pace.h"

#include "timespec.h"

bool pace_interactive(const struct pace *p)
{
	return p && p->interactive_until_ns && timespec_now_ns() < p->interactive_until_ns;
}

void pace_note_interactive(struct pace *p)
{
	if (p) {
		uint64_t now = timespec_now_ns();

		p->interactive_until_ns = now + PACE_INTERACTIVE_HOLD_NS;
		p->spin_until_ns = now + PACE_SPIN_NS;
	}
}

bool pace_spin(const struct pace *p)
{
	return p && p->spin_until_ns && timespec_now_ns() < p->spin_until_ns;
}

size_t pace_budget(const struct pace *p, size_t relay_budget)
{
	if (relay_budget > PACE_SHORT_TURN && pace_interactive(p))
		return PACE_SHORT_TURN;
	return relay_budget;
}
