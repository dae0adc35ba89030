# Debian/Ubuntu packages md9 needs, by purpose. Sourced by run-tests and
# run-demo; `md9_install_deps LIST...` installs what is missing.

# Build: compiler, CMake, OpenSSL (TLS), inih (config), cmocka (unit tests).
MD9_DEPS_BUILD="build-essential cmake pkg-config libssl-dev libinih-dev libcmocka-dev"
# Tests: clang (fuzzers, second compiler), valgrind, the real RDP peers
# (xrdp with xorgxrdp and its session manager, the FreeRDP client) and what
# the desktop test drives (Xvfb, xterm, xclip, xdotool, ImageMagick).
MD9_DEPS_TEST="clang llvm libclang-rt-dev valgrind python3 openssl procps iproute2
  xrdp xorgxrdp xserver-xorg-core xserver-xorg-legacy dbus-x11 freerdp2-x11 xvfb
  x11-utils xterm xclip xdotool imagemagick socat"
# Demo: the same peers.
MD9_DEPS_DEMO="xrdp xorgxrdp xserver-xorg-core xserver-xorg-legacy dbus-x11 freerdp2-x11 xvfb
  x11-utils xterm xclip xdotool imagemagick openssl procps"

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
