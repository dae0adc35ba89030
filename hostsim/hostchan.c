#include "hostchan.h"

#include "log.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

/* Ring memory is made ahead of need. On Hyper-V a channel's rings are guest
 * memory the guest kernel allocated and pinned when the device was probed
 * (uio_hv_generic calls vmbus_alloc_ring in its probe), and uio maps every
 * page at mmap time: opening a channel allocates nothing and nothing faults
 * in while data flows. So each channel here gets a memfd that was created,
 * sized and populated beforehand (a spare), and the spares are topped up
 * when the event loop has nothing else to do (hostchan_refill). A memfd is
 * never reused for a second channel: md9 may still map the old one after a
 * rescind. */
#define HOSTCHAN_SPARES 4

struct spare {
	int memfd;
	void *map;
	size_t map_len;
};
static struct spare spares[HOSTCHAN_SPARES];
static int nspares;

static int make_memory(size_t map_len, struct spare *out)
{
	out->map_len = map_len;
	out->map = MAP_FAILED;
	out->memfd = memfd_create("md9-hostsim-ring", MFD_CLOEXEC);
	if (out->memfd < 0 || ftruncate(out->memfd, (off_t)map_len) < 0)
		goto fail;
	out->map =
	    mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, out->memfd, 0);
	if (out->map == MAP_FAILED)
		goto fail;
	return 0;
fail:
	if (out->memfd >= 0)
		close(out->memfd);
	out->memfd = -1;
	return -1;
}

bool hostchan_refill(size_t ring_size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	/* A size hostchan_new refuses is reported there, once per open. */
	if (nspares == HOSTCHAN_SPARES || ring_size < 2 * page || ring_size % page)
		return false;
	if (make_memory(2 * ring_size, &spares[nspares]) < 0) {
		log_warn("hostsim: cannot make ring memory ahead: %s", strerror(errno));
		return false;
	}
	nspares++;
	return nspares < HOSTCHAN_SPARES;
}

void hostchan_drop_spares(void)
{
	while (nspares) {
		struct spare *sp = &spares[--nspares];
		munmap(sp->map, sp->map_len);
		close(sp->memfd);
	}
}

struct hostchan *hostchan_new(size_t ring_size)
{
	struct hostchan *hc = calloc(1, sizeof(*hc));
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	struct spare mem;

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
	if (nspares && spares[nspares - 1].map_len == hc->map_len)
		mem = spares[--nspares];
	else if (make_memory(hc->map_len, &mem) < 0)
		goto fail;
	hc->memfd = mem.memfd;
	hc->map = mem.map;
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
