#include "inikey.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One line: [b, e) without its newline. */
struct span {
	const char *b, *e;
};

static const char *skip_blank(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* "[name]" header: the trimmed name. */
static bool header(struct span l, struct span *name)
{
	const char *p = skip_blank(l.b, l.e), *q;

	if (p == l.e || *p != '[' || !(q = memchr(p, ']', (size_t)(l.e - p))))
		return false;
	p = skip_blank(p + 1, q);
	while (q > p && isspace((unsigned char)q[-1]))
		q--;
	*name = (struct span){p, q};
	return true;
}

static bool span_is(struct span s, const char *str)
{
	size_t n = strlen(str);

	return (size_t)(s.e - s.b) == n && strncasecmp(s.b, str, n) == 0;
}

/* "key = value" for this key (not a comment): the trimmed value. */
static bool assigns(struct span l, const char *key, struct span *val)
{
	const char *p = skip_blank(l.b, l.e);
	size_t k = strlen(key);

	if ((size_t)(l.e - p) < k || strncasecmp(p, key, k) != 0)
		return false;
	p = skip_blank(p + k, l.e);
	if (p == l.e || *p != '=')
		return false;
	p = skip_blank(p + 1, l.e);
	{
		const char *e = l.e;
		while (e > p && isspace((unsigned char)e[-1]))
			e--;
		*val = (struct span){p, e};
	}
	return true;
}

static bool any_assignment(struct span l)
{
	const char *p = skip_blank(l.b, l.e);

	return p < l.e && *p != '#' && *p != ';' && memchr(p, '=', (size_t)(l.e - p));
}

static struct span line_at(const char *p)
{
	const char *e = strchr(p, '\n');

	return (struct span){p, e ? e : p + strlen(p)};
}

/* Walk the lines; for the target section report the first assignment of key
 * (*hit) and where a new line would go (*ins: the offset just past the
 * section's last assignment or its header). */
static void scan(const char *text, const char *section, const char *key, struct span *hit,
                 struct span *val, size_t *ins, bool *found_section)
{
	bool in = !section[0], seen = false;
	const char *p = text;

	hit->b = NULL;
	*found_section = in;
	*ins = in ? 0 : (size_t)-1;
	while (*p) {
		struct span l = line_at(p), name;
		const char *next = *l.e ? l.e + 1 : l.e;

		if (header(l, &name)) {
			/* the top part ends at the first header: a new key goes
			 * after its last assignment, else after its comments */
			if (in && !section[0] && !seen)
				*ins = (size_t)(p - text);
			in = false;
			if (section[0] && span_is(name, section) && !*found_section) {
				in = *found_section = true;
				*ins = (size_t)(next - text);
			}
		} else if (in) {
			if (!hit->b && assigns(l, key, val)) {
				*hit = l;
				return;
			}
			if (any_assignment(l)) {
				*ins = (size_t)(next - text);
				seen = true;
			}
		}
		p = next;
	}
	if (in && !section[0] && !seen)
		*ins = (size_t)(p - text);
}

bool inikey_get(const char *text, const char *section, const char *key, char *out, size_t cap)
{
	struct span hit, val;
	size_t ins;
	bool sec;

	scan(text, section, key, &hit, &val, &ins, &sec);
	if (!hit.b)
		return false;
	snprintf(out, cap, "%.*s", (int)(val.e - val.b), val.b);
	return true;
}

char *inikey_set(const char *text, const char *section, const char *key, const char *value,
                 bool *changed)
{
	struct span hit, val;
	size_t ins, len = strlen(text), add = strlen(key) + strlen(value) + strlen(section) + 8;
	bool sec;
	char *out = malloc(len + add + 2), *o;

	if (!out)
		return NULL;
	scan(text, section, key, &hit, &val, &ins, &sec);
	*changed = true;
	if (hit.b) {
		size_t vl = strlen(value);
		if ((size_t)(val.e - val.b) == vl && strncmp(val.b, value, vl) == 0) {
			*changed = false;
			memcpy(out, text, len + 1);
			return out;
		}
		/* keep the key's spelling and spacing, replace the value */
		o = out;
		memcpy(o, text, (size_t)(val.b - text));
		o += val.b - text;
		o += sprintf(o, "%s", value);
		memcpy(o, val.e, len - (size_t)(val.e - text) + 1);
		return out;
	}
	if (ins == (size_t)-1) { /* no such section: a new one at the end */
		o = out;
		memcpy(o, text, len);
		o += len;
		if (len && text[len - 1] != '\n')
			*o++ = '\n';
		sprintf(o, "%s[%s]\n%s=%s\n", len ? "\n" : "", section, key, value);
		return out;
	}
	o = out;
	memcpy(o, text, ins);
	o += ins;
	if (ins && text[ins - 1] != '\n')
		*o++ = '\n';
	o += sprintf(o, "%s=%s\n", key, value);
	memcpy(o, text + ins, len - ins + 1);
	return out;
}
