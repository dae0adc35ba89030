/* The emulated hypervisor's scan of monitored channels' trigger bits (K6). */
#include "uiokern_state.h"

#include "log.h"

#include <errno.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

void uiokern_monitor_arm(struct uiokern *k, bool on)
{
	struct itimerspec its = {0};

	if (on == k->scanning)
		return;
	k->scanning = on;
	if (on) {
		its.it_value.tv_nsec = MONITOR_SCAN_NS;
		its.it_interval.tv_nsec = MONITOR_SCAN_NS;
	}
	timerfd_settime(k->scan_fd, 0, &its, NULL);
}

static bool bit_test_clear(uint8_t *base, size_t off, uint32_t bit)
{
	uint32_t *w = (uint32_t *)(base + off);

	return __atomic_fetch_and(w, ~bit, __ATOMIC_SEQ_CST) & bit;
}

/* The hypervisor sees a monitored channel's signal by its trigger bit in
 * the guest->host monitor page; the host then finds the channel by its
 * relid bit in the send half of the interrupt page (vmbus_setevent sets
 * both for a monitored channel; the kernel's write() path does not, K6).
 * A host that ignores the interrupt page (VMBus WIN10_V5+) would accept a
 * trigger bit alone: this one wants both, so md9 must set both. */
void uiokern_monitor_scan(struct ev_handler *h, uint32_t events)
{
	struct uiokern *k = h->arg;
	uint8_t *mon = k->pages + k->page;
	uint64_t n;
	bool any = false;

	if (read(k->scan_fd, &n, sizeof(n)) < 0)
		return;
	for (struct ukdev *d = k->devs; d; d = d->next) {
		if (!d->monitored || !d->sd || !d->sd->chan || d->refcnt == 0)
			continue;
		any = true;
		if (!bit_test_clear(mon, MON_TRIG_OFFSET + MON_TRIG_STRIDE * (d->monitor_id / 32u),
		                    1u << (d->monitor_id % 32u)))
			continue;
		if (!bit_test_clear(k->pages, SEND_INT_OFFSET + 4u * (d->relid / 32u),
		                    1u << (d->relid % 32u))) {
			if (!d->warned)
				log_warn(
				    "hostsim uio: %s: monitor trigger without its relid bit in "
				    "the interrupt page: signal ignored",
				    d->name);
			d->warned = true;
			continue;
		}
		n = 1;
		if (write(d->sd->chan->from_guest, &n, sizeof(n)) < 0)
			log_warn("hostsim uio: doorbell: %s", strerror(errno));
	}
	if (!any)
		uiokern_monitor_arm(k, false);
}
