/* Copying between two scatter lists (iovcopy.h). */
#include "iovcopy.h"

#include <stdint.h>
#include <string.h>

void iovcopy(const struct iovec *dst, const struct iovec *src, size_t len)
{
	size_t done = 0, si = 0, so = 0, di = 0, dof = 0;

	while (done < len) {
		size_t k = src[si].iov_len - so;
		if (k > dst[di].iov_len - dof)
			k = dst[di].iov_len - dof;
		if (k > len - done)
			k = len - done;
		memcpy((uint8_t *)dst[di].iov_base + dof, (uint8_t *)src[si].iov_base + so, k);
		done += k;
		so += k;
		dof += k;
		if (so == src[si].iov_len) {
			si++;
			so = 0;
		}
		if (dof == dst[di].iov_len) {
			di++;
			dof = 0;
		}
	}
}
