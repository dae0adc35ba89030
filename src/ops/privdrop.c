#include "privdrop.h"

#include "log.h"

#include <errno.h>
#include <grp.h>
#include <stdbool.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Create the status socket's directory for the user md9 becomes: after the
 * drop md9 could not create it in /run. Under systemd RuntimeDirectory=
 * makes it (root:md9 0770) and this does nothing. */
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
	if (mkdir(dir, 0750) < 0) {
		log_warn("status socket: cannot create %s: %s", dir, strerror(errno));
		return;
	}
	if (chown(dir, uid, gid) < 0)
		log_warn("status socket: chown %s: %s", dir, strerror(errno));
}

int md9_privdrop(const char *user, const char *status_sock)
{
	const char *name = user && *user ? user : MD9_DEFAULT_USER;
	bool explicit = user && *user;
	struct passwd *pw;
	uid_t uid;
	gid_t gid;

	if (geteuid() != 0) {
		if (explicit && strcmp(name, "root") != 0) {
			pw = getpwnam(name);
			if (!pw || pw->pw_uid != geteuid())
				log_warn("user = %s: md9 was not started as root, so it keeps "
				         "running as uid %u",
				         name, (unsigned)geteuid());
		}
		return 0;
	}
	if (strcmp(name, "root") == 0) {
		log_warn("user = root: md9 keeps running as root (it needs root only to bind the "
		         "classes)");
		return 0;
	}
	errno = 0;
	pw = getpwnam(name);
	if (!pw) {
		if (explicit) {
			log_err("user = %s: no such user%s%s", name, errno ? ": " : "",
			        errno ? strerror(errno) : "");
			return -1;
		}
		log_warn("running as root: there is no user '%s' to drop to (create it: md9 setup)",
		         name);
		return 0;
	}
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	if (uid == 0) {
		log_warn("user = %s has uid 0: md9 keeps running as root", name);
		return 0;
	}
	prepare_status_dir(status_sock, uid, gid);
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
	log_info("dropped privileges: running as user %s (uid %u, gid %u)", name, (unsigned)uid,
	         (unsigned)gid);
	return 0;
}
