/* What `md9 doctor` says about the desktop session's own redirections,
 * which work through xrdp, not md9: drives (xrdp's chansrv mounts them with
 * FUSE) and sound (xrdp's PipeWire or PulseAudio module feeds rdpsnd).
 * Each finds its facts under the doctor's roots and fills a verdict. */
#ifndef MD9_SESSIONCHECK_H
#define MD9_SESSIONCHECK_H

#include <limits.h>
#include <stddef.h>

struct sessioncheck {
	int verdict; /* 0 ok, 1 warn, 2 FAIL (doctor.c's order) */
	char what[2 * PATH_MAX + 512];
	char fix[PATH_MAX + 512];
};

/* etc: "/etc", dev: "/dev", lib: "/lib" (with /usr merged: /usr/lib). */
void sessioncheck_drives(const char *etc, const char *dev, struct sessioncheck *c);
void sessioncheck_audio(const char *etc, const char *lib, struct sessioncheck *c);

#endif
