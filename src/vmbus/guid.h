/* GUIDs as they travel on VMBus: the Windows in-memory layout, i.e. Data1
 * (u32), Data2 (u16) and Data3 (u16) little-endian, then Data4's 8 bytes in
 * order. The CreateSession message carries a GUID in exactly this layout
 * (protocol.md §3). Text form: lower-case, dashed, as Linux sysfs prints it. */
#ifndef MD9_GUID_H
#define MD9_GUID_H

#include <stdbool.h>
#include <stdint.h>

struct md9_guid {
	uint8_t b[16];
};

#define MD9_GUID_STRLEN 37 /* 36 characters and the NUL */

/* protocol.md §2 */
extern const struct md9_guid md9_guid_control_class;    /* F8E65716-3CB3-4A06-9A60-1889C5CCCAB5 */
extern const struct md9_guid md9_guid_control_instance; /* 99221FA0-24AD-11E2-BE98-001AA01BBF6E */
extern const struct md9_guid md9_guid_data_class;       /* F9E9C0D3-B511-4A48-8046-D38079A8830C */
/* Known data channel instances 99221FA1..99221FA5-24AD-11E2-BE98-001AA01BBF6E. */
#define MD9_DATA_INSTANCES 5
void md9_guid_data_instance(unsigned idx, struct md9_guid *out); /* idx 0..4 */
/* Index 0..4 if g is one of the known data instances, else -1. */
int md9_guid_data_instance_index(const struct md9_guid *g);

/* Accepts upper or lower case, optional surrounding braces. 0 or -1. */
int md9_guid_parse(const char *s, struct md9_guid *out);
/* Writes MD9_GUID_STRLEN bytes, lower case; returns buf. */
char *md9_guid_format(const struct md9_guid *g, char buf[MD9_GUID_STRLEN]);
bool md9_guid_eq(const struct md9_guid *a, const struct md9_guid *b);

#endif
