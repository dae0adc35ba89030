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

/* Walk the lines of the target section (the first header of that name; with
 * top, the lines before any header too) and report the LAST assignment of
 * key (*hit, *val: NULL when none; *first: the first one's value) and
 * where a new line would go (*ins:
 * just past the section's last assignment, else just past its header;
 * (size_t)-1 when the section is missing). The last one is the one that
 * counts: xrdp reads a section's lines in order and each assignment
 * overwrites the one before (xrdp common/file.c file_read_section, then
 * e.g. libxrdp/xrdp_rdp.c xrdp_rdp_read_config looping over the items),
 * and libinih hands md9.conf's lines to md9 in order the same way. */
static void scan(const char *text, const char *section, bool top, const char *key, struct span *hit,
                 struct span *val, size_t *ins, struct span *first)
{
	bool in = top || !section[0], first_header = true, found = false, seen = false;
	const char *p = text;

	hit->b = NULL;
	first->b = NULL;
	*ins = !section[0] ? 0 : (size_t)-1;
	while (*p) {
		struct span l = line_at(p), name, v;
		const char *next = *l.e ? l.e + 1 : l.e;

		if (header(l, &name)) {
			/* the top part ends at the first header: a new key of ""
			 * goes after its last assignment, else after its comments */
			if (first_header && !section[0] && !seen)
				*ins = (size_t)(p - text);
			first_header = false;
			in = false;
			if (section[0] && span_is(name, section) && !found) {
				in = found = true;
				*ins = (size_t)(next - text);
			}
		} else if (in) {
			if (assigns(l, key, &v)) {
				*hit = l;
				*val = v;
				if (!first->b)
					*first = v;
			}
			if (any_assignment(l)) {
				*ins = (size_t)(next - text);
				seen = true;
			}
		}
		p = next;
	}
	if (first_header && !section[0] && !seen)
		*ins = (size_t)(p - text);
}

/* The last (or with first, the first) value of key in section, to out. */
static bool get(const char *text, const char *section, const char *key, bool first, char *out,
                size_t cap)
{
	struct span hit, last, one;
	size_t ins;

	scan(text, section, false, key, &hit, &last, &ins, &one);
	if (!hit.b)
		return false;
	if (first)
		last = one;
	snprintf(out, cap, "%.*s", (int)(last.e - last.b), last.b);
	return true;
}

bool inikey_get(const char *text, const char *section, const char *key, char *out, size_t cap)
{
	return get(text, section, key, false, out, cap);
}

bool inikey_get_first(const char *text, const char *section, const char *key, char *out, size_t cap)
{
	return get(text, section, key, true, out, cap);
}

char *inikey_set_in(const char *text, const char *section, bool top, const char *key,
                    const char *sep, const char *value, bool *changed)
{
	struct span hit, val, first;
	size_t ins, len = strlen(text),
	            add = strlen(key) + strlen(sep) + strlen(value) + strlen(section) + 8;
	char *out = malloc(len + add + 2), *o;

	if (!out)
		return NULL;
	scan(text, section, top, key, &hit, &val, &ins, &first);
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
		sprintf(o, "%s[%s]\n%s%s%s\n", len ? "\n" : "", section, key, sep, value);
		return out;
	}
	o = out;
	memcpy(o, text, ins);
	o += ins;
	if (ins && text[ins - 1] != '\n')
		*o++ = '\n';
	o += sprintf(o, "%s%s%s\n", key, sep, value);
	memcpy(o, text + ins, len - ins + 1);
	return out;
}

char *inikey_set(const char *text, const char *section, const char *key, const char *value,
                 bool *changed)
{
	return inikey_set_in(text, section, false, key, "=", value, changed);
}
