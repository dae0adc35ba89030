#!/bin/bash
# Build md9_<version>_<arch>.deb from a built tree:
#   packaging/build-deb.sh BUILD_DIR OUT_DIR [VERSION]
# It installs BUILD_DIR with `cmake --install --prefix /usr --strip` into a
# DESTDIR staging tree, adds the maintainer scripts (packaging/debian/),
# conffiles, md5sums and a control file whose Depends come from
# dpkg-shlibdeps (a fixed list when dpkg-dev is missing), and runs
# dpkg-deb --root-owner-group. Prints the .deb's path on its last line.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")
build=${1:?usage: build-deb.sh BUILD_DIR OUT_DIR [VERSION]}
out=${2:?usage: build-deb.sh BUILD_DIR OUT_DIR [VERSION]}
version=${3:-$(sed -nE 's/^project\(md9 VERSION ([0-9.]+).*/\1/p' "$src/CMakeLists.txt")}
arch=$(dpkg --print-architecture)
build=$(cd "$build" && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)

stage=$(mktemp -d "${TMPDIR:-/tmp}/md9-deb.XXXXXX")
trap 'rm -rf "$stage"' EXIT
chmod 755 "$stage"

DESTDIR="$stage" cmake --install "$build" --prefix /usr --strip >/dev/null
install -d -m 755 "$stage/usr/share/doc/md9"
install -m 644 "$src/LICENSE" "$stage/usr/share/doc/md9/copyright"
gzip -9n "$stage"/usr/share/man/man*/*.[0-9]

# Depends: what the binaries link against.
depends=""
if command -v dpkg-shlibdeps >/dev/null 2>&1; then
	shl=$(mktemp -d "${TMPDIR:-/tmp}/md9-shlibs.XXXXXX")
	mkdir -p "$shl/debian"
	printf 'Source: md9\n\nPackage: md9\nArchitecture: any\n' >"$shl/debian/control"
	depends=$(cd "$shl" && dpkg-shlibdeps -O -e"$stage/usr/bin/md9" 2>/dev/null |
		sed -n 's/^shlibs:Depends=//p') || depends=""
	rm -rf "$shl"
fi
if [ -z "$depends" ]; then
	depends="libc6 (>= 2.34), libssl3 (>= 3.0.0), libinih1, libjansson4"
fi
depends="$depends, adduser"

install -d -m 755 "$stage/DEBIAN"
install -m 755 "$here/debian/postinst" "$here/debian/prerm" "$here/debian/postrm" "$stage/DEBIAN/"
(cd "$stage" && find etc -type f | sed 's|^|/|') >"$stage/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat >"$stage/DEBIAN/control" <<CONTROL
Package: md9
Version: $version
Architecture: $arch
Maintainer: md9 developers <md9@localhost>
Installed-Size: $size
Depends: $depends
Recommends: xrdp
Section: admin
Priority: optional
Homepage: https://localhost/md9
Description: Hyper-V Enhanced Session for Linux guests over VMBus
 md9 serves vmconnect's Enhanced Session (clipboard, drives, audio, any
 resolution) over the SynthRdp VMBus channels through uio_hv_generic and
 relays each session to a local RDP server such as xrdp, with nothing to
 configure on the Hyper-V host. Run "md9 setup" then "md9 doctor".
CONTROL
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | LC_ALL=C sort |
	xargs md5sum) >"$stage/DEBIAN/md5sums"
chmod 644 "$stage/DEBIAN/control" "$stage/DEBIAN/conffiles" "$stage/DEBIAN/md5sums"

deb="$out/md9_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
