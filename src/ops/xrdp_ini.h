/* The [Globals] settings of xrdp.ini that matter to md9 (docs/protocol.md
 * §7), read as xrdp reads them: the last assignment of a key counts
 * (inikey.h). Absent keys keep xrdp's defaults: port 3389, security_layer
 * negotiate, crypt_level high, vmconnect false. */
#ifndef MD9_XRDP_INI_H
#define MD9_XRDP_INI_H

#include <stdbool.h>

struct md9_xrdp_ini {
	char port[256];
	char security_layer[32];
	char crypt_level[32];
	bool vmconnect;
	bool use_vsock; /* old spelling: a bare port number means vsock */
	bool has_port, has_security_layer, has_crypt_level, has_vmconnect;
};

/* 0, or -errno when the file cannot be read (x holds the defaults then). */
int md9_xrdp_ini_read(const char *path, struct md9_xrdp_ini *x);

/* xrdp's boolean spelling (common/os_calls.c g_text2bool): a number other
 * than 0, or true, yes, on (any case). */
bool md9_xrdp_ini_true(const char *v);

#endif
