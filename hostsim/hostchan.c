#include "hostchan.h"

#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

struct hostchan *hostchan_new(size_t ring_size)
{
	struct hostchan *hc = calloc(1, sizeof(*hc));
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	if (!hc)
		return NULL;
	hc->memfd = hc->to_guest = hc->from_guest = -1;
	hc->map = MAP_FAILED;
	if (ring_size < 2 * page || ring_size % page) {
		log_err("hostsim: ring size %zu is not a multiple of the page size (%zu) of at least two pages",
			ring_size, page);
		goto fail;
	}
	hc->page_size = page;
	hc->map_len = 2 * ring_size;
	/* Sealable: the emulated kernel frees the pages after a rescind by
	 * truncating the memfd and sealing it against growth (tests/uio/uioemu_table.c). */
	hc->memfd = memfd_create("md9-hostsim-ring", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (hc->memfd < 0 || ftruncate(hc->memfd, (off_t)hc->map_len) < 0)
		goto fail;
	/* Mapped lazily. md9 faults in every page of it (MADV_POPULATE_WRITE)
	 * as soon as it has started its connect to the server, so the pages
	 * exist before data flows; the host's own first touches are then minor
	 * faults, about 2 us each. Populating here or right after SIM_OPENED
	 * costs 1.7-2 ms in the guest's path to its server (CreateSession ->
	 * accept() p50 0.4 -> 4.2 ms, then 0.96 ms: the two processes contend
	 * for the same memfd). */
	hc->map = mmap(NULL, hc->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, hc->memfd, 0);
	if (hc->map == MAP_FAILED)
		goto fail;
	if (vmbus_ring_attach(&hc->tx, hc->map, page, ring_size - page) < 0 ||
	    vmbus_ring_attach(&hc->rx, (uint8_t *)hc->map + ring_size, page, ring_size - page) < 0)
		goto fail;
	vmbus_ring_reset(&hc->tx);
	vmbus_ring_reset(&hc->rx);
	/* The host writes the RX ring and announces pending_send_sz there. */
	vmbus_ring_writer_init(&hc->rx);
	pipe_rx_init(&hc->in, &hc->tx);
	pipe_tx_init(&hc->out, &hc->rx);
	hc->to_guest = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	hc->from_guest = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (hc->to_guest < 0 || hc->from_guest < 0)
		goto fail;
	return hc;
fail:
	log_err("hostsim: cannot create a channel: %s", strerror(errno));
	hostchan_free(hc);
	return NULL;
}

void hostchan_free(struct hostchan *hc)
{
	if (!hc)
		return;
	if (hc->map != MAP_FAILED)
		munmap(hc->map, hc->map_len);
	if (hc->memfd >= 0)
		close(hc->memfd);
	if (hc->to_guest >= 0)
		close(hc->to_guest);
	if (hc->from_guest >= 0)
		close(hc->from_guest);
	free(hc);
}

void hostchan_signal(struct hostchan *hc)
{
	uint64_t one = 1;

	if (write(hc->to_guest, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("hostsim: doorbell to guest: %s", strerror(errno));
}

void hostchan_ack(struct hostchan *hc)
{
	uint64_t v;

	if (read(hc->from_guest, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("hostsim: doorbell from guest: %s", strerror(errno));
}
