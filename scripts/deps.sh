# Debian/Ubuntu packages md9 needs, by purpose. Sourced by run-tests and
# run-demo; `md9_install_deps LIST...` installs what is missing.

# Build: compiler, CMake, OpenSSL (TLS), inih (config), jansson (status JSON),
# cmocka (unit tests).
MD9_DEPS_BUILD="build-essential cmake pkg-config libssl-dev libinih-dev libjansson-dev libcmocka-dev"
# Demo: the real RDP peers (xrdp with xorgxrdp and its session manager, the
# FreeRDP client) and what the desktop check drives (Xvfb, xterm, xclip,
# xdotool, ImageMagick's import); for drive redirection rdesktop (the client
# whose drives Debian 12's xrdp accepts, tests/fixtures/drive_fixture.py) and
# fuse3 (fusermount, which xrdp's chansrv mounts the drives with).
# Tests: the same, plus clang (fuzzers, second compiler), valgrind, socat, and
# a second RDP server: FreeRDP's shadow server (freerdp2-shadow-x11,
# tests/fixtures/shadow_fixture.py).
MD9_DEPS_DEMO="python3 openssl procps util-linux mount passwd xrdp xorgxrdp
  xserver-xorg-core xauth xfonts-base x11-xkb-utils xkb-data libgl1-mesa-dri xvfb
  freerdp2-x11 xterm xdotool xclip imagemagick x11-xserver-utils x11-utils
  rdesktop fuse3"
MD9_DEPS_TEST="clang llvm libclang-rt-dev valgrind iproute2 socat debootstrap
  freerdp2-shadow-x11 $MD9_DEPS_DEMO"

md9_missing() {
	local p missing=""
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing="$missing $p"
	done
	echo "$missing"
}

md9_install_deps() {
	local missing
	missing=$(md9_missing "$@")
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "md9: missing packages:$missing" >&2
		echo "md9: install them with:  sudo apt-get update && sudo apt-get install -y$missing" >&2
		return 1
	fi
	echo "md9: installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
}
