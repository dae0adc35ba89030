/* A test peer on the host side: offers one data-class channel and sends
 * every byte the guest writes back to it, in packets of random size. */
#ifndef HOSTSIM_ECHO_H
#define HOSTSIM_ECHO_H

#include "simbus.h"

int echo_start(struct simbus *bus, const struct md9_guid *instance, unsigned seed);

#endif
