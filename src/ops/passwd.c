#include "passwd.h"

#include "number.h"
#include "textfile.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The files are small; a larger one is not a passwd file. */
#define PASSWD_MAX (16u << 20)

/* Calls fn for each entry of the file at path (its fields split at ':',
 * at most 8) until fn returns true. false when the file cannot be read or
 * no call returned true. */
static bool each_entry(const char *path, bool (*fn)(char **f, size_t n, void *arg), void *arg)
{
	int err;
	char *text = md9_textfile_read(path, PASSWD_MAX, NULL, &err), *save = NULL;
	bool done = false;

	if (!text)
		return false;
	for (char *line = strtok_r(text, "\n", &save); line && !done;
	     line = strtok_r(NULL, "\n", &save)) {
		char *f[8];
		size_t n = 0;

		f[n++] = line;
		for (char *c = line; *c && n < 8; c++) {
			if (*c == ':') {
				*c = '\0';
				f[n++] = c + 1;
			}
		}
		done = fn(f, n, arg);
	}
	free(text);
	return done;
}

static long id_of(const char *field)
{
	uint64_t v;

	return md9_number_parse(field, 0, UINT32_MAX, &v) == 0 ? (long)v : -1;
}

struct by_name {
	const char *name;
	long id;
};

static bool match_name(char **f, size_t n, void *arg)
{
	struct by_name *q = arg;

	if (n < 3 || strcmp(f[0], q->name) != 0)
		return false;
	q->id = id_of(f[2]);
	return true;
}

long md9_passwd_id(const char *path, const char *name)
{
	struct by_name q = {name, -1};

	each_entry(path, match_name, &q);
	return q.id;
}

struct by_id {
	long id;
	char *out;
	size_t cap;
};

static bool match_id(char **f, size_t n, void *arg)
{
	struct by_id *q = arg;

	if (n < 3 || id_of(f[2]) != q->id)
		return false;
	if (q->cap && (size_t)snprintf(q->out, q->cap, "%s", f[0]) >= q->cap)
		q->out[0] = '\0';
	return true;
}

bool md9_passwd_name(const char *path, long id, char *out, size_t cap)
{
	struct by_id q = {id, out, cap};

	if (cap)
		out[0] = '\0';
	return each_entry(path, match_id, &q) && out[0];
}

struct member {
	const char *group, *user;
	int found;
};

static bool match_member(char **f, size_t n, void *arg)
{
	struct member *q = arg;
	char *save = NULL;

	if (n < 4 || strcmp(f[0], q->group) != 0)
		return false;
	q->found = 0;
	for (char *m = strtok_r(f[3], ",", &save); m; m = strtok_r(NULL, ",", &save))
		if (strcmp(m, q->user) == 0)
			q->found = 1;
	return true;
}

int md9_passwd_member(const char *path, const char *group, const char *user)
{
	struct member q = {group, user, -1};

	each_entry(path, match_member, &q);
	return q.found;
}
