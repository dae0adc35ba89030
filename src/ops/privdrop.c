#include "privdrop.h"

#include "log.h"

#include <errno.h>
#include <grp.h>
#include <stdbool.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

/* Create the status socket's directory for the user md9 becomes: after the
 * drop md9 could not create it in /run. Under systemd RuntimeDirectory=
 * makes it (md9, 0755) and this does nothing. 0755: members of the status
 * group reach the socket (0660) but cannot replace it. */
static void prepare_status_dir(const char *sock, uid_t uid, gid_t gid)
{
	char dir[PATH_MAX];
	char *slash;
	struct stat st;

	if (!sock || !*sock || strlen(sock) >= sizeof(dir))
		return;
	strcpy(dir, sock);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return;
	*slash = '\0';
	if (stat(dir, &st) == 0)
		return;
	if (mkdir(dir, 0755) < 0) {
		log_warn("status socket: cannot create %s: %s", dir, strerror(errno));
		return;
	}
	if (chown(dir, uid, gid) < 0)
		log_warn("status socket: chown %s: %s", dir, strerror(errno));
}

unsigned md9_capbset_count(void)
{
	unsigned n = 0;
	int r;

	/* PR_CAPBSET_READ fails with EINVAL past the kernel's last capability. */
	for (int cap = 0; (r = prctl(PR_CAPBSET_READ, cap, 0, 0, 0)) >= 0; cap++)
		n += r == 1;
	return n;
}

/* Empty the bounding set: needs CAP_SETPCAP, i.e. before the uid changes. */
static int drop_bounding_set(void)
{
	int r;

	for (int cap = 0; (r = prctl(PR_CAPBSET_READ, cap, 0, 0, 0)) >= 0; cap++)
		if (r == 1 && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			return -errno;
	return 0;
}

static int no_new_privs(void)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		log_err("PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int stay_root(const char *why)
{
	log_warn("%s: md9 keeps running as root (allow_root = yes)", why);
	return no_new_privs();
}

int md9_privdrop(const char *user, bool allow_root, const char *status_sock)
{
	const char *name = user && *user ? user : MD9_DEFAULT_USER;
	bool explicit = user && *user;
	struct passwd *pw;
	char why[160];
	uid_t uid;
	gid_t gid;
	int err;

	if (geteuid() != 0) {
		if (explicit && strcmp(name, "root") != 0) {
			pw = getpwnam(name);
			if (!pw || pw->pw_uid != geteuid())
				log_warn("user = %s: md9 was not started as root, so it keeps "
				         "running as uid %u",
				         name, (unsigned)geteuid());
		}
		if (no_new_privs() < 0)
			return -1;
		/* Without CAP_SETPCAP the bounding set cannot shrink; the unit
		 * starts md9 with an empty one (CapabilityBoundingSet=). */
		if (drop_bounding_set() < 0)
			log_debug("capability bounding set kept (%u left; no CAP_SETPCAP)",
			          md9_capbset_count());
		return 0;
	}
	if (strcmp(name, "root") == 0) {
		if (allow_root)
			return stay_root("user = root");
		log_err("user = root: md9 does not run as root unless allow_root = yes says so "
		        "(it needs root only to bind the classes)");
		return -1;
	}
	errno = 0;
	pw = getpwnam(name);
	if (!pw) {
		snprintf(why, sizeof(why), "no user '%s'", name);
		if (allow_root)
			return stay_root(why);
		log_err("user = %s: no such user%s%s: md9 does not run on as root (create it: md9 "
		        "setup; or name another user)",
		        name, errno ? ": " : "", errno ? strerror(errno) : "");
		return -1;
	}
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	if (uid == 0) {
		snprintf(why, sizeof(why), "user = %s has uid 0", name);
		if (allow_root)
			return stay_root(why);
		log_err("%s: md9 does not run as root unless allow_root = yes says so", why);
		return -1;
	}
	prepare_status_dir(status_sock, uid, gid);
	if ((err = drop_bounding_set()) < 0) {
		log_err("dropping privileges: emptying the capability bounding set: %s",
		        strerror(-err));
		return -1;
	}
	if (no_new_privs() < 0)
		return -1;
	/* Supplementary groups from the group database (an administrator can
	 * add md9 to a group owning, say, the backend's UNIX socket); then the
	 * gid, then the uid, all three ids each, so none can be regained. */
	if (initgroups(name, gid) < 0) {
		log_err("dropping privileges: initgroups(%s): %s", name, strerror(errno));
		return -1;
	}
	if (setresgid(gid, gid, gid) < 0) {
		log_err("dropping privileges: setresgid(%u): %s", (unsigned)gid, strerror(errno));
		return -1;
	}
	if (setresuid(uid, uid, uid) < 0) {
		log_err("dropping privileges: setresuid(%u): %s", (unsigned)uid, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0 || seteuid(0) == 0) {
		log_err("dropping privileges: root could be regained; stopping");
		return -1;
	}
	log_info("dropped privileges: running as user %s (uid %u, gid %u), no capabilities, "
	         "no new privileges",
	         name, (unsigned)uid, (unsigned)gid);
	return 0;
}
