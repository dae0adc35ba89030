/* Copying between two scatter lists: what md9-hostsim's echoing peers do
 * with the guest's packets (peeked in its TX ring) and the room reserved in
 * its RX ring. */
#ifndef HOSTSIM_IOVCOPY_H
#define HOSTSIM_IOVCOPY_H

#include <stddef.h>
#include <sys/uio.h>

/* Copy len bytes from src to dst, both walked in order. The caller
 * guarantees that both lists hold at least len bytes. */
void iovcopy(const struct iovec *dst, const struct iovec *src, size_t len);

#endif
