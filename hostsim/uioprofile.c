#include "uioprofile.h"

#include <string.h>

/* Ring sizes (K8): 512 pages including the control page up to 6.9 (and on
 * the LTS lines); 2 MiB including it in 6.10-6.12 (hv_uio_probe:
 * SZ_2M); 6.18: VMBUS_RING_SIZE(SZ_2M), 2 MiB of data plus the page. */
#define RING_2M      (2u << 20)
#define RING_2M_PAGE ((2u << 20) + 4096u)

static const struct uio_profile profiles[] = {
    {
        .name = "6.9",
        .osrelease = "6.9.12-emulated",
        .probe_needs_monitor = true,
        .irqcontrol_signals = false,
        .rescind_unregisters = false,
        .rescind_frees_ring = false,
        .kernel_masks = true,
        .ring_size = RING_2M,
        .summary = "before 6.10: channels without a monitor refused at probe (K2); "
                   "rescinded devices stay (K3); the kernel sets the RX mask (K5)",
    },
    {
        .name = "6.10",
        .osrelease = "6.10.0-emulated",
        .probe_needs_monitor = false,
        .irqcontrol_signals = true,
        .rescind_unregisters = false,
        .rescind_frees_ring = false,
        .kernel_masks = true,
        .ring_size = RING_2M,
        .summary = "6.10: every channel bound, write() signals (K6); rescinded devices "
                   "stay and cannot be reopened (K3); the kernel sets the RX mask (K5)",
    },
    {
        .name = "6.11",
        .osrelease = "6.11.11-emulated",
        .probe_needs_monitor = false,
        .irqcontrol_signals = true,
        .rescind_unregisters = true,
        .rescind_frees_ring = true,
        .kernel_masks = true,
        .ring_size = RING_2M,
        .summary = "6.11: a rescind unregisters the device (K3) and frees the ring pages "
                   "md9 still maps (K4); the kernel sets the RX mask (K5)",
    },
    {
        .name = "6.18",
        .osrelease = "6.18.2-emulated",
        .probe_needs_monitor = false,
        .irqcontrol_signals = true,
        .rescind_unregisters = true,
        .rescind_frees_ring = true,
        .kernel_masks = false,
        .ring_size = RING_2M_PAGE,
        .summary = "6.18: as 6.11, but user space owns the RX mask (CVE-2025-40048 "
                   "fix, K5); 2 MiB of ring data plus the control page (K8)",
    },
};

const struct uio_profile *uio_profile_find(const char *name)
{
	for (size_t i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++)
		if (strcmp(profiles[i].name, name) == 0)
			return &profiles[i];
	return NULL;
}

const char *uio_profile_names(void)
{
	return "6.9, 6.10, 6.11, 6.18";
}
