#!/bin/bash
# The Debian package, end to end (ctest: package_deb, label "package"):
#
#   1. packaging/build-deb.sh builds md9_<version>_<arch>.deb from BUILD_DIR
#      (a DESTDIR install) and its contents are checked;
#   2. debootstrap --variant=minbase makes a clean root of this machine's
#      Debian release from the mirror its apt uses (/etc/apt/sources.list*),
#      with the package's dependencies, systemd (for systemd-analyze) and
#      procps (kill, for ExecReload) included;
#   3. dpkg -i in that root (chroot): postinst creates the user md9;
#   4. md9 --version, md9 doctor (with a private /proc and /sys mounted in a
#      private mount namespace): it must print every check and say "not
#      running on Hyper-V"; md9 setup --dry-run;
#   5. systemd-analyze verify on the installed unit (in the root: the unit's
#      ExecStart/ExecReload binaries are checked there), and a deliberately
#      broken copy must fail it; systemd-analyze security prints the score;
#   6. upgrade in place: a build of this tree labelled 0.0.1, the
#      administrator edits md9.conf and enables the service, then this
#      build: dpkg unpacks over 0.0.1, the edit and the enablement stay;
#   7. dpkg -r then dpkg -P: the service files go, the conffile goes on
#      purge, and no path with md9 in it is left but dpkg's records.
#
# Usage: packaging/test-package.sh BUILD_DIR
# Exit 0 pass, 1 fail, 77 skip (only when this machine cannot debootstrap:
# not root, debootstrap not installable, or the mirror unreachable).
# The downloaded .debs are kept in BUILD_DIR/package-test/cache for reruns.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: test-package.sh BUILD_DIR}" && pwd)
work="$build/package-test"
root="$work/root"
start=$SECONDS

say() { printf '[%3ds] %s\n' $((SECONDS - start)) "$*"; }
skip() {
	say "SKIP: $*"
	exit 77
}
fail() {
	say "FAIL: $*"
	exit 1
}

[ "$(id -u)" -eq 0 ] || skip "debootstrap and chroot need root"

# ---- tools ----
need=""
command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || need="$need debootstrap"
command -v dpkg-deb >/dev/null 2>&1 || fail "dpkg-deb missing: not a Debian system?"
command -v unshare >/dev/null 2>&1 || need="$need util-linux"
if [ -n "$need" ]; then
	say "installing:$need"
	export DEBIAN_FRONTEND=noninteractive
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $need >/dev/null 2>&1 ||
		{ apt-get update -qq >/dev/null 2>&1 &&
			apt-get install -y -qq --no-install-recommends $need >/dev/null 2>&1; } ||
		skip "cannot install$need (apt-get failed)"
fi
export PATH="$PATH:/usr/sbin:/sbin"

# ---- release and mirror: the ones this machine's apt uses ----
# shellcheck disable=SC1091
suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
mirror=""
for f in /etc/apt/sources.list.d/*.sources; do
	[ -f "$f" ] || continue
	# deb822: the URIs of a stanza whose Suites has exactly $suite
	mirror=$(awk -v s="$suite" '
		BEGIN { RS = ""; FS = "\n" }
		{
			uris = ""; ok = 0; deb = 0
			for (i = 1; i <= NF; i++) {
				if ($i ~ /^URIs:/) { sub(/^URIs:[ \t]*/, "", $i); split($i, u, /[ \t]+/); uris = u[1] }
				if ($i ~ /^Types:/ && $i ~ /(^|[ \t])deb([ \t]|$)/) deb = 1
				if ($i ~ /^Suites:/) { n = split($i, w, /[ \t]+/); for (j = 2; j <= n; j++) if (w[j] == s) ok = 1 }
			}
			if (ok && deb && uris != "") { print uris; exit }
		}' "$f")
	[ -n "$mirror" ] && break
done
if [ -z "$mirror" ]; then
	mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		awk -v s="$suite" '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } if ($(i + 1) == s) { print $i; exit } }')
fi
mirror=${mirror:-http://deb.debian.org/debian}
mirror=${mirror%/}
say "release $suite, mirror $mirror"

reachable() {
	if command -v curl >/dev/null 2>&1; then
		curl -fsS -o /dev/null --max-time 20 "$1"
	else
		/usr/bin/python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=20).read(1)' "$1"
	fi
}
reachable "$mirror/dists/$suite/Release" ||
	skip "the mirror $mirror is not reachable ($mirror/dists/$suite/Release)"

# ---- 1. the package ----
rm -rf "$work/out" "$root"
mkdir -p "$work/out" "$work/cache"
deb=$("$here/build-deb.sh" "$build" "$work/out" | tail -n 1) || fail "build-deb.sh failed"
[ -f "$deb" ] || fail "build-deb.sh made no .deb"
case "$(basename "$deb")" in
md9_*_"$(dpkg --print-architecture)".deb) ;;
*) fail "unexpected package name $(basename "$deb")" ;;
esac
say "built $(basename "$deb") ($(stat -c %s "$deb") bytes)"
contents=$(dpkg-deb -c "$deb" | awk '{print $6}')
for f in ./usr/bin/md9 ./usr/share/man/man8/md9.8.gz \
	./usr/share/man/man5/md9.conf.5.gz ./usr/lib/systemd/system/md9.service \
	./usr/lib/udev/rules.d/60-md9.rules ./usr/lib/modules-load.d/md9.conf \
	./usr/lib/sysusers.d/md9.conf ./etc/md9/md9.conf; do
	grep -qx "$f" <<<"$contents" || fail "$f is not in the package"
done
# md9-hostsim plays Hyper-V for the tests: not for users, not packaged.
! grep -q 'md9-hostsim' <<<"$contents" || fail "md9-hostsim is in the package"
depends=$(dpkg-deb -f "$deb" Depends)
say "Depends: $depends"
[ "$(dpkg-deb -f "$deb" Package)" = md9 ] || fail "Package field"
# Lists first, then grep: with pipefail, grep -q closing the pipe early
# would fail the producer with SIGPIPE.
conffiles=$(dpkg-deb -I "$deb" conffiles)
grep -qx /etc/md9/md9.conf <<<"$conffiles" || fail "md9.conf is not a conffile"
control=$(dpkg-deb --ctrl-tarfile "$deb" | tar -t)
grep -q '^./postinst$' <<<"$control" || fail "no postinst"

# ---- 2. a clean root ----
include="systemd,procps"
# shellcheck disable=SC2013
for p in $(sed -E 's/\([^)]*\)//g; s/\|[^,]*//g; s/,/ /g' <<<"$depends"); do
	[ "$p" = libc6 ] || include="$include,$p"
done
say "debootstrap --variant=minbase --include=$include $suite"
if ! debootstrap --variant=minbase --include="$include" --cache-dir="$work/cache" \
	"$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1; then
	tail -n 20 "$work/debootstrap.log"
	fail "debootstrap failed although the mirror answers (log: $work/debootstrap.log)"
fi
say "debootstrap done"

# Run a command in the root with a private /proc and /sys (a mount namespace
# of its own: nothing stays mounted, whatever happens).
in_root() {
	# shellcheck disable=SC2016
	unshare --mount --propagation private /bin/sh -c '
		r=$1; shift
		mount -t proc proc "$r/proc" 2>/dev/null
		mount -t sysfs sysfs "$r/sys" 2>/dev/null
		exec chroot "$r" "$@"' sh "$root" "$@"
}

# What the clean root holds before md9 arrives: after the purge, nothing
# with md9 in its path may be left but dpkg's own records and the user.
(cd "$root" && find . -xdev | LC_ALL=C sort) >"$work/files-before"

# ---- 3. install ----
cp "$deb" "$root/tmp/md9.deb"
in_root dpkg -i /tmp/md9.deb >"$work/dpkg-i.log" 2>&1 || {
	cat "$work/dpkg-i.log"
	fail "dpkg -i failed in the clean root"
}
grep -E "Setting up md9" "$work/dpkg-i.log" || fail "dpkg did not configure md9"
in_root getent passwd md9 >/dev/null || fail "postinst did not create the user md9"
in_root getent group md9 >/dev/null || fail "postinst did not create the group md9"
in_root getent group md9-status | grep -q ':md9$' || fail "postinst did not make md9 a member of md9-status"
say "installed; user md9: $(in_root getent passwd md9)"
[ ! -e "$root/etc/systemd/system/multi-user.target.wants/md9.service" ] ||
	fail "postinst enabled md9 although systemd does not run in the root"

# ---- 4. run it ----
ver=$(in_root /usr/bin/md9 --version) || fail "md9 --version failed in the root"
say "$ver"
in_root /usr/bin/md9 doctor --timeout 500 >"$work/doctor.log" 2>&1
rc=$?
cat "$work/doctor.log"
[ $rc -ne 0 ] || fail "md9 doctor exited 0 outside Hyper-V"
for check in "hyper-v" "hv_vmbus" "uio_hv_generic" "module loaded" "control channel" \
	"classes bound" "device nodes" "md9 user" "configuration" "md9 running" \
	"rdp server" "xrdp config" "hvsocket leftover"; do
	grep -qE "^(ok|warn|FAIL) +$check " "$work/doctor.log" || fail "doctor printed no '$check' check"
done
grep -qE '^FAIL +hyper-v +not running on Hyper-V.* -- fix: ' "$work/doctor.log" ||
	fail "doctor did not say 'not running on Hyper-V' with a fix"
grep -qE '^ok +md9 user ' "$work/doctor.log" || fail "doctor does not see the user postinst made"
grep -qE '^md9 doctor: [0-9]+ ok, [0-9]+ warn, [0-9]+ FAIL' "$work/doctor.log" || fail "no summary"
in_root /usr/bin/md9 setup --dry-run >"$work/setup.log" 2>&1 || {
	cat "$work/setup.log"
	fail "md9 setup --dry-run failed in the root"
}
grep -q "ok             /usr/lib/udev/rules.d/60-md9.rules" "$work/setup.log" ||
	fail "setup does not see the packaged udev rule"
grep -q "would enable   md9.service" "$work/setup.log" || fail "setup would not enable md9"
say "doctor and setup --dry-run ran"

# ---- 5. the unit ----
in_root systemd-analyze verify --man=no /usr/lib/systemd/system/md9.service \
	>"$work/verify.log" 2>&1 || {
	cat "$work/verify.log"
	fail "systemd-analyze verify md9.service failed"
}
[ ! -s "$work/verify.log" ] || {
	cat "$work/verify.log"
	fail "systemd-analyze verify complained"
}
sed 's|^ExecStart=.*|ExecStart=/usr/bin/md9-not-there run|' \
	"$root/usr/lib/systemd/system/md9.service" >"$root/tmp/broken.service"
if in_root systemd-analyze verify --man=no /tmp/broken.service >/dev/null 2>&1; then
	fail "systemd-analyze verify accepts a unit whose binary is missing: it checks nothing"
fi
say "systemd-analyze verify: md9.service is clean"
in_root systemd-analyze security --offline=true md9.service 2>/dev/null | tail -n 1
grep -q '^Type=notify$' "$root/usr/lib/systemd/system/md9.service" || fail "not Type=notify"

# ---- 6. upgrade in place: an older build -> this one ----
# The older build is this tree's files under an older version (build-deb.sh's
# VERSION): dpkg treats it as any earlier release, so the upgrade runs the
# real maintainer-script path (prerm upgrade, unpack over, postinst
# configure OLD-VERSION) and the real conffile rules.
ver_new=$(dpkg-deb -f "$deb" Version)
old_deb=$("$here/build-deb.sh" "$build" "$work/old" 0.0.1 | tail -n 1) || fail "building the older package"
in_root dpkg -P md9 >/dev/null 2>&1 || fail "dpkg -P before the upgrade test"
cp "$old_deb" "$root/tmp/md9-old.deb"
in_root dpkg -i /tmp/md9-old.deb >"$work/dpkg-i-old.log" 2>&1 || {
	cat "$work/dpkg-i-old.log"
	fail "installing the older package failed"
}
# the administrator's edit, and the service enabled (offline, as in an image)
printf '\n# edited by the upgrade test\nlog_level = debug\n' >>"$root/etc/md9/md9.conf"
edited=$(sha256sum <"$root/etc/md9/md9.conf")
in_root systemctl enable md9.service >"$work/enable.log" 2>&1 || {
	cat "$work/enable.log"
	fail "systemctl enable md9 (offline) failed in the root"
}
uid_before=$(in_root id -u md9)
in_root dpkg -i /tmp/md9.deb >"$work/dpkg-upgrade.log" 2>&1 || {
	cat "$work/dpkg-upgrade.log"
	fail "upgrading 0.0.1 -> $ver_new failed"
}
grep -q "Unpacking md9 ($ver_new) over (0.0.1)" "$work/dpkg-upgrade.log" || {
	cat "$work/dpkg-upgrade.log"
	fail "dpkg did not upgrade in place"
}
[ "$(in_root dpkg-query -W -f='${Version} ${Status}' md9)" = "$ver_new install ok installed" ] ||
	fail "after the upgrade md9 is $(in_root dpkg-query -W -f='${Version} ${Status}' md9)"
[ "$(sha256sum <"$root/etc/md9/md9.conf")" = "$edited" ] || fail "the upgrade lost the edit of md9.conf"
ls "$root"/etc/md9/md9.conf.dpkg-* >/dev/null 2>&1 && fail "the upgrade left $(ls "$root"/etc/md9/md9.conf.dpkg-*)"
[ -L "$root/etc/systemd/system/multi-user.target.wants/md9.service" ] ||
	fail "the upgrade disabled md9.service"
[ "$(in_root id -u md9)" = "$uid_before" ] || fail "the upgrade changed the md9 user's uid"
in_root /usr/bin/md9 --version | grep -q "$ver_new" || fail "md9 --version after the upgrade"
say "upgraded 0.0.1 -> $ver_new in place: md9.conf edit kept, md9.service still enabled"

# ---- 7. remove, purge ----
in_root dpkg -r md9 >"$work/dpkg-r.log" 2>&1 || {
	cat "$work/dpkg-r.log"
	fail "dpkg -r md9 failed"
}
[ ! -e "$root/usr/bin/md9" ] || fail "md9 still there after dpkg -r"
[ -e "$root/etc/md9/md9.conf" ] || fail "dpkg -r removed the conffile"
in_root dpkg -P md9 >/dev/null 2>&1 || fail "dpkg -P md9 failed"
[ ! -e "$root/etc/md9/md9.conf" ] || fail "dpkg -P left /etc/md9/md9.conf"
[ ! -e "$root/etc/md9" ] || fail "dpkg -P left /etc/md9/: $(ls -A "$root/etc/md9")"
[ ! -e "$root/etc/systemd/system/multi-user.target.wants/md9.service" ] ||
	fail "dpkg -P left md9.service enabled"
rm -f "$root/tmp/md9.deb" "$root/tmp/md9-old.deb"
(cd "$root" && find . -xdev | LC_ALL=C sort) >"$work/files-after"
# dpkg's own records (the package is known to have been purged) and the
# user md9 (postrm keeps it: its id may own files) may stay; nothing else.
left=$(comm -13 "$work/files-before" "$work/files-after" | grep -i md9 |
	grep -vE '^\./var/lib/dpkg/|^\./var/log/' || true)
[ -z "$left" ] || fail "the purge left: $left"
say "removed and purged: nothing of md9's left but the user md9"

rm -rf "$root"
say "PASS: the package installs into a clean $suite root and works there"
exit 0
