/* The desktop part of `md9 setup`: what a Hyper-V user's remote desktop
 * needs beyond md9 itself, the way the HvSocket-era linux-vm-tools scripts
 * prepared it (docs/desktop.md lists each of their steps and why it is kept
 * or dropped). One file per step, each a pure edit of one file's text plus
 * the facts that say whether it applies:
 *   fusemount.c  xrdp's drive mount name (sesman.ini [Chansrv] FuseMountName)
 *   xwrapper.c   Xorg.wrap's allowed_users, when the session's Xorg goes
 *                through the wrapper
 *   colord.c     a polkit rule so colord stops asking remote sessions for a
 *                password (GNOME creates a colour profile in each session)
 * desktop.c applies them: diff, backup (<file>.md9-backup, the first one is
 * kept), atomic write; `md9 setup --undo` puts back what md9 changed, and
 * only where the file is still exactly as md9 left it. */
#ifndef MD9_DESKTOP_H
#define MD9_DESKTOP_H

#include "setup_report.h"

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#define DESKTOP_FUSE_MOUNT_NAME "shared-drives" /* linux-vm-tools' name */

enum desktop_verdict {
	DESKTOP_NA,  /* does not apply here: why says so */
	DESKTOP_OK,  /* applies, nothing to change */
	DESKTOP_EDIT /* apply edit() to path (created when absent) */
};

/* One step: decide() looks at the system under root ("" for "/") and
 * fills path (absolute, without the root) and why; edit() turns the file's
 * text (NULL when absent) into what md9 wants, or NULL when out of memory.
 * edit() must be pure, so that --undo can tell whether a file is still what
 * md9 made of its backup. */
struct desktop_step {
	const char *name;
	const char *what; /* why the change, for the output */
	enum desktop_verdict (*decide)(const char *root, char *path, size_t pcap, char *why,
	                               size_t wcap);
	char *(*edit)(const char *cur);
	/* Every path the step may write (for --undo); NULL: the one decide()
	 * names. edit_for: the edit for one of those paths; NULL: edit. */
	const char *const *paths;
	char *(*(*edit_for)(const char *path))(const char *);
};

extern const struct desktop_step fusemount_step, xwrapper_step, colord_step;

struct desktop_run {
	const char *root; /* "" for the running system */
	struct setup_report rep;
};

void desktop_setup(struct desktop_run *r);
void desktop_undo(struct desktop_run *r);

/* Helpers the steps share: the file under root, read (NULL when absent or
 * unreadable) and whether a path exists. */
char *desktop_read(const char *root, const char *path);
char *(*colord_edit_for(const char *path))(const char *);
bool desktop_exists(const char *root, const char *path);

#endif
