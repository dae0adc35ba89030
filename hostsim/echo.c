/* md9-hostsim's echo peer (echo.h). */
#include "echo.h"

#include "iovcopy.h"
#include "log.h"

#include <stdlib.h>

struct echo {
	unsigned seed;
	uint64_t bytes;
};

/* Copy guest->host bytes back host->guest until the source is empty or the
 * destination full; one doorbell at most per direction. */
static void echo_pump(struct simdev *d)
{
	struct echo *e = d->owner;
	struct hostchan *hc = d->chan;
	bool kick = false;

	/* Woken: whatever we waited for, look again; re-armed below if still full. */
	vmbus_ring_write_unwait(&hc->rx);
	for (;;) {
		vmbus_ring_mask(&hc->tx);
		for (;;) {
			struct iovec src[64], dst[2];
			int nsrc, ndst;
			ssize_t n = pipe_rx_peekv(&hc->in, src, 64, &nsrc, PIPE_MAX_DATA);
			if (n < 0) {
				log_err("hostsim echo: guest stream corrupt: %s", hc->in.error);
				return;
			}
			if (n == 0)
				break;
			size_t want = 1 + (size_t)rand_r(&e->seed) % (size_t)n;
			size_t cap = pipe_tx_reserve(&hc->out, want, dst, &ndst);
			if (cap == 0) {
				if (pipe_tx_wait(&hc->out, want))
					continue;
				goto out; /* the guest signals when it has read enough */
			}
			iovcopy(dst, src, cap);
			pipe_tx_put(&hc->out, cap);
			pipe_rx_consume(&hc->in, cap);
			e->bytes += cap;
			kick |= pipe_tx_commit(&hc->out);
			kick |= pipe_rx_commit(&hc->in);
		}
		if (!vmbus_ring_unmask(&hc->tx))
			break;
	}
out:
	kick |= pipe_tx_commit(&hc->out);
	kick |= pipe_rx_commit(&hc->in);
	if (kick)
		hostchan_signal(hc);
}

static void echo_closed(struct simdev *d)
{
	struct echo *e = d->owner;

	log_info("hostsim echo: channel closed after %llu bytes", (unsigned long long)e->bytes);
}

static const struct simdev_ops echo_ops = {
    .opened = echo_pump,
    .closed = echo_closed,
    .signalled = echo_pump,
};

struct echo *echo_start(struct simbus *bus, const struct md9_guid *instance, unsigned seed)
{
	struct echo *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->seed = seed;
	if (!simbus_offer(bus, &md9_guid_data_class, instance, &echo_ops, e)) {
		free(e);
		return NULL;
	}
	return e;
}

void echo_free(struct echo *e)
{
	free(e);
}
