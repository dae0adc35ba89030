/* T.124 GCC Conference Create Request and Response (PER, ITU-T T.124 §8.7,
 * §9.5) carried in the userData of MCS Connect-Initial and Connect-Response
 * (mcs.h): md9 checks them and finds the RDP data blocks inside. */
#ifndef MD9_GCC_H
#define MD9_GCC_H

#include <stddef.h>
#include <stdint.h>

/* The ConnectData at buf[off, off+len) holding a ConferenceCreateRequest;
 * *voff, *vlen get the window of its h221NonStandard "Duca" userData value
 * (the client data blocks, MS-RDPBCGR 2.2.1.3). 1, or -1 with *why. */
int gcc_parse_request(const uint8_t *buf, size_t off, size_t len, size_t *voff, size_t *vlen,
                      const char **why);
/* The same for a ConferenceCreateResponse and its "McDn" value (the server
 * data blocks, MS-RDPBCGR 2.2.1.4). */
int gcc_parse_response(const uint8_t *buf, size_t off, size_t len, size_t *voff, size_t *vlen,
                       const char **why);

#endif
