#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The Redis VM's initramfs: the main one (selftests/vm/mkinitramfs.sh) with
# a second archive appended, which the kernel unpacks over it: Redis on
# PASTE, stock Redis and the seeded-bug build (when built) with their
# shared libraries, and the guest scripts.
# The main initramfs stays as small as it was.
# Usage: mkinitramfs.sh BUILD
set -eu
build=$1
here=$(cd "$(dirname "$0")" && pwd)
root=$build/initramfs-redis.d
out=$build/initramfs-redis.cpio

rm -rf "$root"
mkdir -p "$root/paste/redis/bin"
for b in redis-server redis-server-stock redis-server-bug1 redis-cli redis-benchmark; do
	[ -f "$build/redis/bin/$b" ] || continue	# REDIS_STOCK=1, REDIS_SEEDED=1
	strip --strip-debug -o "$root/paste/redis/bin/$b" "$build/redis/bin/$b"
	ldd "$build/redis/bin/$b" | grep -o '/[^ ]*' | while read -r lib; do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
done
# Its own guest scripts (the NIC pair's helper is in the main archive).
cp "$here/redis-guest.sh" "$here/redis-demo.sh" "$here/../../tools/redis/bench-guest.sh" \
	"$root/paste/redis/"
chmod +x "$root/paste/redis/"*.sh

(cd "$root" && find . | cpio -o -H newc --quiet) > "$out.tmp"
cat "$build/initramfs.cpio" "$out.tmp" > "$out"
rm -f "$out.tmp"
echo "  INITRD  $out ($(du -h "$out" | cut -f1))"
