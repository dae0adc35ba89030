/* The doorbells of a uio channel, both ways: signalling the host (through
 * the interrupt and monitor pages for a monitored channel, through write()
 * for the others) and consuming the host's notification (read()). After a
 * rescind both report -EIO for every error the device gives (K4: the
 * channel's memory may be gone). Sources: uio_private.h. */
#include "uio_private.h"

#include <errno.h>
#include <unistd.h>

/* The guest->host half of the interrupt page [K-bus vmbus_connect;
 * D vmbus_uio_map_resource: int_page = map1 + HYPERV_PAGE_SIZE / 2]. */
#define HV_SEND_INT_OFFSET (HV_HYP_PAGE / 2)
/* struct hv_monitor_page: u32 trigger_state, u32 reserved, then 4 trigger
 * groups of {u32 pending; u32 armed} [include/linux/hyperv.h;
 * D rte_vmbus_reg.h struct vmbus_mon_page]. */
#define HV_MON_TRIG_OFFSET 8u
#define HV_MON_TRIG_STRIDE 8u
#define HV_MON_TRIG_LEN    32u

bool uio_signal_fits(uint32_t relid, uint64_t int_len)
{
	return HV_SEND_INT_OFFSET + 4 * ((uint64_t)relid / 32) + 4 <= int_len;
}

void uio_signal_setup(struct uio_chan *c, uint32_t relid, uint32_t monitor_id)
{
	/* Bit relid of the send half, bit monitor_id % 32 of trigger group
	 * monitor_id / 32's pending word [K-bus vmbus_setevent;
	 * D vmbus_send_interrupt, vmbus_set_monitor]. */
	c->monitored = true;
	c->int_word = (uint32_t *)((uint8_t *)c->int_page + HV_SEND_INT_OFFSET) + relid / 32;
	c->int_bit = 1u << (relid % 32);
	c->mon_word = (uint32_t *)((uint8_t *)c->mon_page + HV_MON_TRIG_OFFSET +
	                           HV_MON_TRIG_STRIDE * (monitor_id / HV_MON_TRIG_LEN));
	c->mon_bit = 1u << (monitor_id % HV_MON_TRIG_LEN);
}

int uio_signal_host(struct md9_channel *ch)
{
	struct uio_chan *c = uio_chan_of(ch);
	const int32_t on = 1;
	ssize_t w;

	if (ch->gone)
		return -EIO;
	if (c->monitored) {
		/* The kernel does not signal monitored channels for us
		 * (hv_uio_irqcontrol); set the channel's interrupt bit, then its
		 * monitor trigger bit, as vmbus_setevent and DPDK vmbus_set_event
		 * do. The seq_cst RMWs order every earlier ring store before them. */
		__atomic_fetch_or(c->int_word, c->int_bit, __ATOMIC_SEQ_CST);
		__atomic_fetch_or(c->mon_word, c->mon_bit, __ATOMIC_SEQ_CST);
		return 0;
	}
	/* write(1) runs hv_uio_irqcontrol(1): it signals the host
	 * (vmbus_setevent) AND clears our RX ring's interrupt_mask. Clearing it
	 * while the reader drains with the ring masked can only cause an extra
	 * wake-up (ack handles it), never a lost one. */
	do {
		w = write(ch->fd, &on, sizeof(on));
	} while (w < 0 && errno == EINTR);
	if (w == (ssize_t)sizeof(on))
		return 0;
	/* uio_write: EIO once hv_uio_rescind set irq = 0, EINVAL once the
	 * device is unregistered [K-core uio_write]: the channel is gone. */
	if (w >= 0 || errno == EIO || errno == EINVAL || errno == ENODEV)
		return -EIO;
	return -errno;
}

int uio_signal_ack(struct md9_channel *ch)
{
	int32_t count;
	ssize_t r;

	/* read() returns the event count and consumes every pending event
	 * [K-core uio_read]. After a rescind hv_uio_rescind sets info->irq = 0:
	 * read fails with EIO; once the device is unregistered newer kernels
	 * fail with EINVAL (dead info_ref). */
	do {
		r = read(ch->fd, &count, sizeof(count));
	} while (r < 0 && errno == EINTR);
	if (r == (ssize_t)sizeof(count))
		return 0;
	if (r < 0 && errno == EAGAIN)
		return 0;
	if (r < 0 && errno != EIO && errno != EINVAL && errno != ENODEV)
		return -errno;
	return -EIO;
}
