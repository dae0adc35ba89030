#include "roots.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

static const struct {
	size_t off;
	const char *path;
} fields[] = {
    {offsetof(struct md9_roots, sys), "/sys"},   {offsetof(struct md9_roots, dev), "/dev"},
    {offsetof(struct md9_roots, proc), "/proc"}, {offsetof(struct md9_roots, kmsg), "/dev/kmsg"},
    {offsetof(struct md9_roots, etc), "/etc"},   {offsetof(struct md9_roots, run), "/run"},
    {offsetof(struct md9_roots, lib), "/lib"},   {offsetof(struct md9_roots, top), "/"},
};

#define NFIELDS      (sizeof(fields) / sizeof(fields[0]))
#define FIELD(r, i)  ((char *)(r) + fields[i].off)
#define CFIELD(r, i) ((const char *)(r) + fields[i].off)

void md9_roots_default(struct md9_roots *r)
{
	for (size_t i = 0; i < NFIELDS; i++)
		snprintf(FIELD(r, i), MD9_ROOT_MAX, "%s", fields[i].path);
}

int md9_roots_under(struct md9_roots *r, const char *dir)
{
	struct md9_roots t;
	size_t n;

	if (!dir || dir[0] != '/')
		return -EINVAL;
	n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (n == 1)
		n = 0; /* "/": the real paths */
	for (size_t i = 0; i < NFIELDS; i++) {
		/* "/" itself is the tree: DIR, or "/" */
		const char *rel =
		    strcmp(fields[i].path, "/") == 0 ? (n ? "" : "/") : fields[i].path;
		int w = snprintf(FIELD(&t, i), MD9_ROOT_MAX, "%.*s%s", (int)n, dir, rel);

		if (w < 0 || w >= MD9_ROOT_MAX)
			return -ENAMETOOLONG;
	}
	*r = t;
	return 0;
}

bool md9_roots_are_default(const struct md9_roots *r)
{
	for (size_t i = 0; i < NFIELDS; i++)
		if (strcmp(CFIELD(r, i), fields[i].path) != 0)
			return false;
	return true;
}
