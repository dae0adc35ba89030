/* The daemon's lists of data channels waiting for something: named by
 * CreateSession but not offered yet, or offered but not ready to open. Each
 * entry has a deadline (when md9 gives up, or warns). A short array: the host
 * names one data channel per session, so a handful wait at most. */
#ifndef MD9_PENDING_H
#define MD9_PENDING_H

#include "guid.h"

#include <stdbool.h>
#include <time.h>

struct pending_list {
	struct pending {
		struct md9_guid instance;
		struct timespec deadline;
		bool warned; /* the deadline passed and md9 said so */
	} v[8];
	int n;
};

/* The entry for inst, or NULL. */
struct pending *pending_find(struct pending_list *l, const struct md9_guid *inst);
/* Add inst with a deadline ms from now. 1: added; 0: it was there
 * already; -1: the list is full (not added). */
int pending_add(struct pending_list *l, const struct md9_guid *inst, unsigned ms);
void pending_remove(struct pending_list *l, const struct md9_guid *inst);
/* The earliest deadline, NULL when the list is empty. */
const struct timespec *pending_first_deadline(const struct pending_list *l);
/* Whether an entry has not been warned about yet. */
bool pending_any_unwarned(const struct pending_list *l);
/* Remove every entry whose deadline is not after now, calling gone(arg, its
 * instance) for each first. */
void pending_expire(struct pending_list *l, const struct timespec *now,
                    void (*gone)(void *arg, const struct md9_guid *inst), void *arg);

#endif
