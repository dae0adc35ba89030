/* A test peer on the host side: offers one data-class channel and sends
 * every byte the guest writes back to it, in packets of random size. */
#ifndef HOSTSIM_ECHO_H
#define HOSTSIM_ECHO_H

#include "simbus.h"

struct echo;

/* NULL on failure. The echo's device lives on the bus; free the echo after
 * the bus (simbus_free). */
struct echo *echo_start(struct simbus *bus, const struct md9_guid *instance, unsigned seed);
void echo_free(struct echo *e);

#endif
