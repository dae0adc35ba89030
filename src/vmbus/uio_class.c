/* The device classes md9 asked the uio transport for: binding each to
 * uio_hv_generic through new_id, remembering them for the scans, and naming
 * them in warnings. Sources: uio_private.h. */
#include "uio_private.h"

#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool class_known(const struct uio_tp *tp, const struct md9_guid *class_id)
{
	for (size_t i = 0; i < tp->nclasses; i++)
		if (md9_guid_eq(&tp->classes[i], class_id))
			return true;
	return false;
}

int uio_class_bind(struct md9_transport *t, const struct md9_guid *class_id)
{
	struct uio_tp *tp = uio_tp_of(t);
	char text[MD9_GUID_STRLEN];
	int err = md9_sysfs_new_id(tp->driver_dir, class_id);

	md9_guid_format(class_id, text);
	if (err == -ENOENT) {
		log_err("uio_hv_generic not loaded: modprobe uio_hv_generic (%s missing)",
		        tp->driver_dir);
		return -ENOENT;
	}
	/* 1: the id was in the driver's dynamic id list already (EEXIST); its
	 * devices are bound already. */
	if (err == 1) {
		log_debug("class %s already bound to uio_hv_generic", text);
		err = 0;
	}
	/* Not root (the unit runs md9 as User=md9): only root may write
	 * new_id; `md9 bind-classes` did it as root before (ExecStartPre=+,
	 * the udev rule). */
	if ((err == -EACCES || err == -EPERM || err == -EROFS) && geteuid() != 0) {
		log_debug("class %s: new_id is root's; relying on md9 bind-classes", text);
		err = 0;
	}
	if (err) {
		log_err("binding class %s to uio_hv_generic (%s/new_id): %s%s", text,
		        tp->driver_dir, strerror(-err),
		        err == -EACCES || err == -EPERM ? " (needs root)" : "");
		return err;
	}
	if (!class_known(tp, class_id)) {
		struct md9_guid *nc = realloc(tp->classes, (tp->nclasses + 1) * sizeof(*nc));

		if (!nc)
			return -ENOMEM;
		tp->classes = nc;
		tp->classes[tp->nclasses++] = *class_id;
		log_info("class %s bound to uio_hv_generic", text);
	}
	/* Devices of this class may be present already: make event_fd readable
	 * so the caller's next poll_events rescans. */
	uio_tp_kick(tp);
	return 0;
}

const char *uio_class_name(const struct md9_guid *class_id)
{
	if (md9_guid_eq(class_id, &md9_guid_control_class))
		return "SynthRdp control channel";
	if (md9_guid_eq(class_id, &md9_guid_data_class))
		return "SynthRdp data channel";
	return "bound class";
}
