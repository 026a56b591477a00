#!/bin/sh
# SPDX-License-Identifier: MIT
#
# ss(8) that shows PASTE sockets: Debian's iproute2 source
# (scripts/deb-source.sh), our series (tools/iproute2/patches/series)
# applied, and only what ss needs built (lib/, misc/). Debian's own ss,
# from the same source unpatched, is what the VM keeps as the old one.
# Output: BUILD/iproute2/bin/ss; BUILD/iproute2/src, the patched tree.
# Usage: build.sh REPO BUILD
set -eu
repo=$1 build=$2
out=$build/iproute2
patches=$repo/tools/iproute2/patches
stamp=$out/.built

dsc=$("$repo/scripts/deb-source.sh" iproute2 "$out/dl")
[ -f "$stamp" ] && [ -x "$out/bin/ss" ] &&
	[ -z "$(find "$patches" "$dsc" -newer "$stamp" 2>/dev/null)" ] && exit 0
echo "  IPROUTE2 $(basename "$dsc" .dsc), $(wc -l < "$patches/series") patches"
rm -rf "$out/src"
dpkg-source -q --no-check -x "$dsc" "$out/src" > /dev/null
while read -r p; do
	patch -s -p1 -d "$out/src" < "$patches/$p" || { echo "iproute2: $p does not apply" >&2; exit 1; }
done < "$patches/series"
(cd "$out/src" && ./configure > ../configure.log 2>&1 &&
	make -s SUBDIRS="lib misc" > ../build.log 2>&1) || { tail -20 "$out/build.log"; exit 1; }
mkdir -p "$out/bin"
cp "$out/src/misc/ss" "$out/bin/.ss.tmp"
mv "$out/bin/.ss.tmp" "$out/bin/ss"
touch "$stamp"
echo "  IPROUTE2 $out/bin/ss"
