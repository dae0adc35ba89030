#!/bin/sh
# Run a command on a machine where md9 is installed: a system user md9
# exists. Done in a private mount namespace over a copy of /etc, so that
# nothing else on this machine sees the user. Tests must pass both with and
# without it: which user md9 runs as is theirs to say (issue 15).
#
#   tests/ops/with_md9_user.sh COMMAND...      (root; exit 77 if it cannot)
set -eu
if [ "$(id -u)" -ne 0 ] || ! unshare --mount true 2>/dev/null; then
	echo "SKIP: needs root and unshare --mount"
	exit 77
fi
etc=$(mktemp -d /tmp/md9-etc-XXXXXX)
trap 'rm -rf "$etc"' EXIT
cp -a /etc/. "$etc/"
# A useradd running elsewhere at the time of the copy leaves its lock files
# in the copy, where no process will ever remove them.
rm -f "$etc"/passwd.lock "$etc"/group.lock "$etc"/shadow.lock "$etc"/gshadow.lock "$etc"/.pwd.lock
if ! grep -q '^md9:' "$etc/passwd"; then
	echo 'md9:x:990:990:md9 Hyper-V Enhanced Session relay:/nonexistent:/usr/sbin/nologin' >>"$etc/passwd"
	echo 'md9:x:990:' >>"$etc/group"
	echo 'md9:!:19000::::::' >>"$etc/shadow"
	echo 'md9:!::' >>"$etc/gshadow"
fi
unshare --mount --propagation private sh -c 'mount --bind "$0" /etc && getent passwd md9 >/dev/null && exec "$@"' "$etc" "$@"
