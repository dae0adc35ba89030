#!/bin/sh
# The unit md9 ships (packaging/md9.service.in, as installed): its
# `systemd-analyze security` exposure stays at or below 2.5; it runs md9 as
# user md9 with an empty capability bounding set (root only in the "+"
# ExecStartPre= that binds the classes); it starts after xrdp (Wants=, not
# Requires=). The udev rule gives /dev/uioN to user md9 alone (0600).
# Exit 77 when systemd-analyze cannot analyse offline.
set -eu
repo=${MD9_REPO:?}
fail() { echo "FAIL: $*"; exit 1; }
command -v systemd-analyze >/dev/null || { echo "SKIP: no systemd-analyze"; exit 77; }
work=$(mktemp -d /tmp/md9-unit-XXXXXX)
trap 'rm -rf "$work"' EXIT
sed 's|@MD9_BIN@|/usr/bin/md9|g' "$repo/packaging/md9.service.in" >"$work/md9.service"
if ! systemd-analyze security --offline=true "$work/md9.service" >"$work/out" 2>&1; then
	grep -q "Unknown option\|unrecognized option" "$work/out" && { echo "SKIP: no --offline"; exit 77; }
	cat "$work/out"; fail "systemd-analyze security failed"
fi
level=$(sed -n 's/.*Overall exposure level for md9.service: \([0-9.]*\).*/\1/p' "$work/out")
[ -n "$level" ] || { cat "$work/out"; fail "no exposure level"; }
echo "exposure level $level"
awk -v l="$level" 'BEGIN { exit !(l <= 2.5) }' || { cat "$work/out"; fail "exposure $level > 2.5"; }
systemd-analyze security --offline=true --threshold=25 "$work/md9.service" >/dev/null 2>&1 ||
	fail "--threshold=25 (2.5) rejected the unit"

u="$work/md9.service"
grep -qx 'User=md9' "$u" || fail "the unit does not start md9 as user md9"
grep -qx 'CapabilityBoundingSet=' "$u" || fail "the capability bounding set is not empty"
grep -qx 'NoNewPrivileges=yes' "$u" || fail "no NoNewPrivileges"
grep -q '^ExecStartPre=+-/usr/bin/md9 bind-classes$' "$u" || fail "no privileged bind-classes step"
grep -q '^After=.* xrdp.service' "$u" || fail "not ordered after xrdp.service"
grep -q '^Wants=.* xrdp.service' "$u" || fail "does not want xrdp.service"
! grep -q '^Requires=.*xrdp' "$u" || fail "requires xrdp (Wants only)"
grep -qx 'RuntimeDirectoryMode=0755' "$u" || fail "the runtime directory is group-writable"
! grep -q 'CAP_SET' "$u" || fail "setuid/setgid capabilities left in the unit"

r="$repo/packaging/60-md9.rules.in"
grep -q 'SUBSYSTEM=="uio".*OWNER="md9", GROUP="root", MODE="0600"' "$r" ||
	fail "the uio nodes are not md9's alone (OWNER=md9 MODE=0600)"
! grep -q 'GROUP="md9"' "$r" || fail "the uio nodes still go to group md9"
s="$repo/packaging/sysusers.conf"
grep -qx 'g md9-status -' "$s" && grep -qx 'm md9 md9-status' "$s" || fail "sysusers: no md9-status"
echo "PASS unit_security"
