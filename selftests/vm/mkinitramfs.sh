#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Pack the VM's initramfs: static busybox, the real e2fsprogs mke2fs,
# xfsprogs' mkfs.xfs, iproute2's ip and ss with their shared libraries,
# our selftests and tools, and our ss (tools/iproute2).
# Usage: mkinitramfs.sh BUILD
set -eu
build=$1
here=$(cd "$(dirname "$0")" && pwd)
root=$build/initramfs
out=$build/initramfs.cpio

rm -rf "$root"
mkdir -p "$root/bin" "$root/sbin" "$root/usr/bin" "$root/etc" "$root/paste/bin" \
	"$root/proc" "$root/sys" "$root/dev" "$root/tmp" "$root/mnt"

cp /bin/busybox "$root/bin/busybox"
file -L "$root/bin/busybox" 2>/dev/null | grep -q 'statically linked' ||
	ldd /bin/busybox 2>&1 | grep -q 'not a dynamic' ||
	{ echo "mkinitramfs: /bin/busybox is not static (install busybox-static)" >&2; exit 1; }

# Dynamic programs with their libraries and loader.
copy_prog() {
	cp -L "$1" "$root$2"
	ldd "$1" | grep -o '/[^ ]*' | while read -r lib; do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
}
copy_prog /sbin/mke2fs /sbin/mke2fs
copy_prog /sbin/e2fsck /sbin/e2fsck
copy_prog /sbin/mkfs.xfs /sbin/mkfs.xfs
copy_prog "$(command -v ip)" /sbin/ip
# Debian's ss, the old one; ours (make iproute2) goes in /paste/bin.
copy_prog "$(command -v ss)" /sbin/ss
# HTTP clients for the pasted tests.
copy_prog "$(command -v curl)" /usr/bin/curl
copy_prog "$(command -v wrk)" /usr/bin/wrk
echo "root:x:0:0:root:/root:/bin/sh" > "$root/etc/passwd"
echo "nobody:x:65534:65534:nobody:/nonexistent:/bin/false" >> "$root/etc/passwd"
echo "# mke2fs defaults: the real ones" > "$root/etc/mke2fs.conf"
cp /etc/mke2fs.conf "$root/etc/mke2fs.conf"

cp "$here/init" "$root/init"
cp "$here/run-guest-tests.sh" "$here/demo.sh" "$here/post.lua" "$here/nic-pair.sh" \
	"$here/../../tools/bench/bench-guest.sh" \
	"$here/../crash/crash-guest.sh" "$root/paste/"
cp "$here/../tests.list" "$root/paste/tests.list"
for d in "$build/selftests" "$build/tools" "$build/crash" "$build/iproute2/bin"; do
	[ -d "$d" ] && find "$d" -maxdepth 1 -type f -perm -u+x \
		-exec cp {} "$root/paste/bin/" \;
done
chmod +x "$root/init" "$root/paste/"*.sh

# Uncompressed: the debug kernel unpacks a gzip'd 25 MB archive in about
# 5 s under TCG, and a make check boots some 40 times.
(cd "$root" && find . | cpio -o -H newc --quiet) > "$out.tmp"
mv "$out.tmp" "$out"
echo "  INITRD  $out ($(du -h "$out" | cut -f1))"
