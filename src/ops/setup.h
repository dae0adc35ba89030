/* `md9 setup [--dry-run] [--root DIR]`: install and enable what md9 needs on
 * a Hyper-V guest, and nothing else:
 *   - the system user and group md9 (systemd-sysusers, else useradd, else
 *     adduser) and its sysusers.d entry;
 *   - modules-load.d/md9.conf (uio_hv_generic at boot; loaded now too);
 *   - the udev rule 60-md9.rules (binds the SynthRdp classes, /dev/uioN to
 *     group md9); udev reloaded and the devices re-triggered;
 *   - /etc/md9/md9.conf (md9_config_template: every setting documented)
 *     when there is none;
 *   - md9.service when no unit is installed, and its enablement
 *     (systemctl enable --now md9 when systemd runs; the WantedBy symlink
 *     otherwise);
 *   - in /etc/xrdp/xrdp.ini only what the security mode needs (rdp:
 *     crypt_level=none and a security_layer allowing rdp; passthrough:
 *     vmconnect=true; auto: crypt_level=none only if security_layer=rdp;
 *     tls: a security_layer allowing TLS), keeping xrdp.ini.md9-backup and
 *     printing a unified diff.
 * Files already packaged (under /usr/lib or /lib) count as installed. A
 * second run changes nothing and says so. Everything is relative to --root
 * (default "/"); commands that act on the running system (modprobe,
 * udevadm, systemctl --now) run only when the root is "/". */
#ifndef MD9_SETUP_H
#define MD9_SETUP_H

#include "roots.h"

#include <stdbool.h>
#include <stdio.h>

struct md9_setup_opts {
	struct md9_roots roots; /* the system to set up (roots.h): --root DIR or the real one */
	bool dry_run;
	const char *security; /* NULL: the configuration's */
	const char *self; /* md9's own path, for the unit and the udev rule; NULL: /proc/self/exe */
	bool tcp;         /* keep TCP between md9 and xrdp (default: xrdp's UNIX socket) */
	bool undo;        /* put back what the desktop steps changed (desktop.h) */
};

/* 0: done (or nothing to do), 1: something failed (said why). After md9's
 * own steps come the desktop steps of desktop.h (drive mount name, X
 * wrapper, colord's polkit rule); with undo, only those are put back. */
int md9_setup(const struct md9_setup_opts *o, FILE *out);

/* Files md9 ships, generated at build time from packaging/ (the unit and the
 * udev rule hold "@MD9_BIN@" where md9's path goes). */
extern const char md9_asset_service[];
extern const char md9_asset_udev_rules[];
extern const char md9_asset_modules_load[];
extern const char md9_asset_sysusers[];

#endif
