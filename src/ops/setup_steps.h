/* md9 setup's steps, which setup.c runs in order: setup_system.c (user,
 * groups, modules, udev, unit) and setup_edit.c (md9.conf and xrdp.ini).
 * What they share is in setup_tools.h, below them all. */
#ifndef MD9_SETUP_STEPS_H
#define MD9_SETUP_STEPS_H

#include "adapter.h"
#include "setup_tools.h"

/* setup_system.c */
void setup_system_sysusers(struct setup *s);
void setup_system_user(struct setup *s);
void setup_system_groups(struct setup *s);
void setup_system_modules(struct setup *s);
void setup_system_udev(struct setup *s);
void setup_system_unit(struct setup *s);

/* setup_edit.c */
void setup_edit_config(struct setup *s, const char *want_security, enum md9_security file_mode,
                       const char *want_backend, const char *file_backend);
void setup_edit_xrdp(struct setup *s, enum md9_security mode);

#endif
