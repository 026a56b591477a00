#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The flush-ordering checker needs a QEMU whose TCG plugins can read vCPU
# registers and guest memory: clwb/clflushopt are translated as no-ops
# without a memory access, so the only way to learn which line they flush
# is to compute the address from the registers. Debian 12's QEMU 7.2 has
# no such API; bookworm-backports has QEMU 10.0 with it.
#
# This unpacks that QEMU (binaries and firmware) into BUILD/qemu10 without
# installing it over the system's 7.2, and takes qemu-plugin.h from the
# same version's Debian source package. The apt sources are derived from
# the system's own Debian entry. Usage: qemu-plugin-env.sh BUILD
set -eu
build=$1
dest=$build/qemu10
[ -x "$dest/usr/bin/qemu-system-x86_64" ] && [ -f "$dest/include/qemu-plugin.h" ] && exit 0

sys=/etc/apt/sources.list.d/debian.sources
bpo=/etc/apt/sources.list.d/paste-backports.sources
sudo=
[ "$(id -u)" = 0 ] || sudo=sudo
if [ ! -f $bpo ]; then
	[ -f $sys ] || { echo "qemu-plugin-env: no $sys to derive bookworm-backports from" >&2; exit 1; }
	# The first stanza (the main archive), for binaries and sources.
	awk 'BEGIN { RS = ""; ORS = "\n" } NR == 1' $sys | grep -v '^#' |
		sed -e 's/^Types:.*/Types: deb deb-src/' \
		    -e 's/^Suites:.*/Suites: bookworm-backports/' | $sudo tee $bpo > /dev/null
	$sudo apt-get -qq update
fi

ver=$(apt-cache madison qemu-system-x86 | awk '/backports/ { print $3; exit }')
[ -n "$ver" ] || { echo "qemu-plugin-env: no qemu-system-x86 in bookworm-backports" >&2; exit 1; }
echo "  QEMU    $ver for the checker (unpacked into $dest)"
tmp=$build/qemu10.dl
rm -rf "$tmp" "$dest"
mkdir -p "$tmp" "$dest/include"
(cd "$tmp" && apt-get -qq download qemu-system-x86="$ver" qemu-system-common="$ver" \
	qemu-system-data="$ver" 2>&1 | grep -v unsandboxed || true)
for deb in "$tmp"/*.deb; do
	dpkg-deb -x "$deb" "$dest"
done
# Only the orig tarball is needed; the Debian patches do not touch the
# plugin API.
(cd "$tmp" && apt-get -qq source --download-only "qemu=$ver" 2>&1 |
	grep -v -e unsandboxed -e "404 *Not Found" -e "Failed to fetch some" || true)
orig=$(ls "$tmp"/qemu_*.orig.tar.* 2>/dev/null | head -1)
[ -n "$orig" ] || { echo "qemu-plugin-env: could not fetch the qemu $ver source" >&2; exit 1; }
tar -xf "$orig" -C "$tmp" --wildcards '*/include/qemu/qemu-plugin.h'
cp "$tmp"/qemu-*/include/qemu/qemu-plugin.h "$dest/include/"
rm -rf "$tmp"
"$dest/usr/bin/qemu-system-x86_64" --version | head -1
