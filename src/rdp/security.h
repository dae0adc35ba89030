/* md9's security modes (md9.conf `security`, --security), what the
 * adapter (adapter.h) does in each: auto, tls, rdp, passthrough. */
#ifndef MD9_SECURITY_H
#define MD9_SECURITY_H

enum md9_security { MD9_SEC_AUTO, MD9_SEC_TLS, MD9_SEC_RDP, MD9_SEC_PASSTHROUGH };

/* "auto", "tls", "rdp", "passthrough"; "?" for anything else. */
const char *md9_security_name(enum md9_security s);
/* The mode named s: 0, or -1 when s names none. */
int md9_security_parse(const char *s, enum md9_security *out);

#endif
