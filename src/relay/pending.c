#include "pending.h"

#include "timespec.h"

struct pending *pending_find(struct pending_list *l, const struct md9_guid *inst)
{
	for (int i = 0; i < l->n; i++)
		if (md9_guid_eq(&l->v[i].instance, inst))
			return &l->v[i];
	return NULL;
}

int pending_add(struct pending_list *l, const struct md9_guid *inst, unsigned ms)
{
	if (pending_find(l, inst))
		return 0;
	if (l->n >= (int)(sizeof(l->v) / sizeof(l->v[0])))
		return -1;
	l->v[l->n].instance = *inst;
	l->v[l->n].deadline = timespec_in_ms(ms);
	l->v[l->n].warned = false;
	l->n++;
	return 1;
}

void pending_remove(struct pending_list *l, const struct md9_guid *inst)
{
	for (int i = 0; i < l->n; i++)
		if (md9_guid_eq(&l->v[i].instance, inst))
			l->v[i--] = l->v[--l->n];
}

const struct timespec *pending_first_deadline(const struct pending_list *l)
{
	const struct timespec *first = NULL;

	for (int i = 0; i < l->n; i++)
		if (!first || timespec_before(&l->v[i].deadline, first))
			first = &l->v[i].deadline;
	return first;
}

bool pending_any_unwarned(const struct pending_list *l)
{
	for (int i = 0; i < l->n; i++)
		if (!l->v[i].warned)
			return true;
	return false;
}

void pending_expire(struct pending_list *l, const struct timespec *now,
                    void (*gone)(void *arg, const struct md9_guid *inst), void *arg)
{
	for (int i = 0; i < l->n; i++) {
		if (!timespec_before(now, &l->v[i].deadline)) {
			gone(arg, &l->v[i].instance);
			l->v[i--] = l->v[--l->n];
		}
	}
}
