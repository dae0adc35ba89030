#include "security.h"

#include <string.h>

static const char *const names[] = {
    [MD9_SEC_AUTO] = "auto",
    [MD9_SEC_TLS] = "tls",
    [MD9_SEC_RDP] = "rdp",
    [MD9_SEC_PASSTHROUGH] = "passthrough",
};

const char *md9_security_name(enum md9_security s)
{
	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

int md9_security_parse(const char *s, enum md9_security *out)
{
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum md9_security)i;
			return 0;
		}
	}
	return -1;
}
