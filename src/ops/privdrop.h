/* md9 needs root only to write the SynthRdp class GUIDs to uio_hv_generic's
 * new_id. Started as root, it binds the classes, then becomes the configured
 * user for good (setgroups, setgid, setuid). Under systemd the unit starts
 * it as that user directly (User=md9; `md9 bind-classes` runs as root in
 * ExecStartPre=+). What that user needs (the udev rule and the unit give
 * it): read/write on the SynthRdp /dev/uioN nodes (owner md9, 0600), read
 * on sysfs and /etc/md9, and write on the status socket's directory
 * (/run/md9). */
#ifndef MD9_PRIVDROP_H
#define MD9_PRIVDROP_H

#include <stdbool.h>

#define MD9_DEFAULT_USER "md9"

/* `user` is the configuration's `user` setting ("" = "md9"). Started as
 * root, md9 becomes that user; it refuses to go on as root (-1) when the
 * user does not exist or is root, unless allow_root (the configuration's
 * `allow_root = yes`) says so explicitly. Not root: the uid stays (a
 * warning when NAME is not the current user).
 * Either way md9 then sets PR_SET_NO_NEW_PRIVS, and after a drop from root
 * its capability bounding set is empty (dropped while md9 still had
 * CAP_SETPCAP); nothing md9 could ever execute gains a privilege.
 * status_dir_for: the status socket path; when running as root and its
 * directory is missing, it is created for the new user (0755).
 * 0: done; -1: failed, logged; md9 must not go on. */
int md9_privdrop(const char *user, bool allow_root, const char *status_dir_for);
/* Capabilities left in the bounding set (0 = empty). */
unsigned md9_capbset_count(void);

#endif
