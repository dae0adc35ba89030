/* md9 needs root only to write the SynthRdp class GUIDs to uio_hv_generic's
 * new_id. Started as root, it binds the classes, then becomes the configured
 * user for good (setgroups, setgid, setuid). What that user needs afterwards
 * (the udev rule and the unit give it): read/write on the SynthRdp
 * /dev/uioN nodes (group md9, 0660), read on sysfs and /etc/md9, and write on
 * the status socket's directory (/run/md9). */
#ifndef MD9_PRIVDROP_H
#define MD9_PRIVDROP_H

#define MD9_DEFAULT_USER "md9"

/* `user` is the configuration's `user` setting:
 *   ""      (default) become "md9" when running as root and that user
 *           exists; otherwise stay (with a warning when root);
 *   "root"  stay root (not recommended);
 *   NAME    become NAME; it must exist (else -1).
 * Not root: nothing changes (a warning when NAME is not the current user).
 * status_dir_for: the status socket path; when running as root and its
 * directory is missing, it is created for the new user (0750).
 * 0: done (or nothing to do); -1: failed, logged; md9 must not go on. */
int md9_privdrop(const char *user, const char *status_dir_for);

#endif
