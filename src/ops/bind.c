/* `md9 bind-classes` (bind.h). */
#include "bind.h"

#include "guid.h"
#include "log.h"
#include "path.h"
#include "sysfs.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

int md9_bind_classes(const struct md9_roots *roots)
{
	static const struct md9_guid *const classes[] = {&md9_guid_control_class,
	                                                 &md9_guid_data_class};
	char dir[PATH_MAX], text[MD9_GUID_STRLEN];
	int rc = 0;

	md9_path_join(dir, sizeof(dir), roots->sys, "bus/vmbus/drivers/uio_hv_generic");
	for (size_t i = 0; i < 2; i++) {
		int err = md9_sysfs_new_id(dir, classes[i]);

		md9_guid_format(classes[i], text);
		if (err == -ENOENT) {
			log_err("%s/new_id missing: uio_hv_generic is not loaded (modprobe "
			        "uio_hv_generic)",
			        dir);
			return 1;
		} else if (err == 1) {
			log_info("class %s: already bound to uio_hv_generic", text);
		} else if (err) {
			log_err("binding class %s (%s/new_id): %s%s", text, dir, strerror(-err),
			        err == -EACCES || err == -EPERM ? " (needs root)" : "");
			rc = 1;
		} else {
			log_info("class %s bound to uio_hv_generic", text);
		}
	}
	return rc;
}
