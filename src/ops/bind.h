/* Binding the SynthRdp classes to uio_hv_generic through sysfs: what
 * `md9 bind-classes` (run by the udev rule) and md9 setup's udev step do. */
#ifndef MD9_BIND_H
#define MD9_BIND_H

#include "roots.h"

/* `md9 bind-classes`: write both SynthRdp class GUIDs to
 * <roots->sys>/bus/vmbus/drivers/uio_hv_generic/new_id (EEXIST is fine).
 * 0 or 1 (logged). The udev rule runs it. */
int md9_bind_classes(const struct md9_roots *roots);

#endif
