#include "xrdp_ini.h"

#include "inikey.h"
#include "number.h"
#include "textfile.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Debian's xrdp.ini is about 10 KiB. */
#define XRDP_INI_MAX (1u << 20)

bool md9_xrdp_ini_true(const char *v)
{
	uint64_t n;

	return (md9_number_parse(v, 1, UINT64_MAX, &n) == 0) || strcasecmp(v, "true") == 0 ||
	       strcasecmp(v, "yes") == 0 || strcasecmp(v, "on") == 0;
}

/* [Globals] key into out; whether it was there. */
static bool globals(const char *text, const char *key, char *out, size_t cap)
{
	return text && inikey_get(text, "Globals", key, out, cap);
}

int md9_xrdp_ini_read(const char *path, struct md9_xrdp_ini *x)
{
	int err;
	char *text = md9_textfile_read(path, XRDP_INI_MAX, NULL, &err), v[32];

	memset(x, 0, sizeof(*x));
	strcpy(x->port, "3389");
	strcpy(x->security_layer, "negotiate");
	strcpy(x->crypt_level, "high");
	x->has_port = globals(text, "port", x->port, sizeof(x->port));
	x->has_security_layer =
	    globals(text, "security_layer", x->security_layer, sizeof(x->security_layer));
	x->has_crypt_level = globals(text, "crypt_level", x->crypt_level, sizeof(x->crypt_level));
	x->has_vmconnect = globals(text, "vmconnect", v, sizeof(v));
	x->vmconnect = x->has_vmconnect && md9_xrdp_ini_true(v);
	x->use_vsock = globals(text, "use_vsock", v, sizeof(v)) && md9_xrdp_ini_true(v);
	if (!text)
		return err;
	free(text);
	return 0;
}
