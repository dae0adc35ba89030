#include "guid.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* Byte positions of the 32 hex digits' pairs in the wire layout, in text order. */
static const uint8_t text_to_wire[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};

const struct md9_guid md9_guid_control_class = {
	{0x16, 0x57, 0xe6, 0xf8, 0xb3, 0x3c, 0x06, 0x4a, 0x9a, 0x60, 0x18, 0x89, 0xc5, 0xcc, 0xca, 0xb5}};
const struct md9_guid md9_guid_control_instance = {
	{0xa0, 0x1f, 0x22, 0x99, 0xad, 0x24, 0xe2, 0x11, 0xbe, 0x98, 0x00, 0x1a, 0xa0, 0x1b, 0xbf, 0x6e}};
const struct md9_guid md9_guid_data_class = {
	{0xd3, 0xc0, 0xe9, 0xf9, 0x11, 0xb5, 0x48, 0x4a, 0x80, 0x46, 0xd3, 0x80, 0x79, 0xa8, 0x83, 0x0c}};

void md9_guid_data_instance(unsigned idx, struct md9_guid *out)
{
	*out = md9_guid_control_instance;
	out->b[0] = (uint8_t)(0xa1 + (idx % MD9_DATA_INSTANCES));
}

int md9_guid_data_instance_index(const struct md9_guid *g)
{
	if (memcmp(g->b + 1, md9_guid_control_instance.b + 1, 15) != 0)
		return -1;
	if (g->b[0] < 0xa1 || g->b[0] > 0xa5)
		return -1;
	return g->b[0] - 0xa1;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int md9_guid_parse(const char *s, struct md9_guid *out)
{
	size_t len = strlen(s);
	unsigned pair = 0;

	if (len == 38 && s[0] == '{' && s[37] == '}') {
		s++;
		len = 36;
	}
	if (len != 36)
		return -1;
	for (size_t i = 0; i < 36;) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return -1;
			i++;
			continue;
		}
		int hi = hexval((unsigned char)s[i]), lo = hexval((unsigned char)s[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out->b[text_to_wire[pair++]] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	return 0;
}

char *md9_guid_format(const struct md9_guid *g, char buf[MD9_GUID_STRLEN])
{
	static const char hex[] = "0123456789abcdef";
	char *p = buf;

	for (unsigned pair = 0; pair < 16; pair++) {
		if (pair == 4 || pair == 6 || pair == 8 || pair == 10)
			*p++ = '-';
		uint8_t v = g->b[text_to_wire[pair]];
		*p++ = hex[v >> 4];
		*p++ = hex[v & 15];
	}
	*p = '\0';
	return buf;
}

bool md9_guid_eq(const struct md9_guid *a, const struct md9_guid *b)
{
	return memcmp(a->b, b->b, 16) == 0;
}
