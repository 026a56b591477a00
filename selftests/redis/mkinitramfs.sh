#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The Redis VM's initramfs: the main one (selftests/vm/mkinitramfs.sh) with
# a second archive appended, which the kernel unpacks over it: Redis on
# PASTE, stock Redis and the seeded-bug build (when built) with their
# shared libraries, the guest scripts, and tclsh with Redis's AOF tests.
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
cp "$here/redis-guest.sh" "$here/redis-demo.sh" "$here/aof-suite.sh" \
	"$here/aof-suite.exclude" "$here/../../tools/redis/bench-guest.sh" \
	"$root/paste/redis/"
chmod +x "$root/paste/redis/"*.sh

# A self-signed certificate for the TLS test (redis-guest.sh), made anew.
mkdir -p "$root/paste/redis/tls"
openssl req -x509 -newkey rsa:2048 -nodes -days 7 -subj /CN=localhost \
	-keyout "$root/paste/redis/tls/key.pem" -out "$root/paste/redis/tls/cert.pem" \
	> /dev/null 2>&1

# Redis's own AOF tests (aof-suite.sh): tclsh, and of the patched tree the
# test framework, the four units and the programs they run.
tree=$build/redis/src
suite=$root/paste/redis/suite
mkdir -p "$suite/src" "$suite/tests/integration" "$suite/tests/unit" "$root/usr/bin" \
	"$root/usr/share/tcltk"
cp -r "$tree/tests/test_helper.tcl" "$tree/tests/support" "$tree/tests/helpers" \
	"$tree/tests/assets" "$suite/tests/"
cp "$tree/tests/integration/aof.tcl" "$tree/tests/integration/aof-multi-part.tcl" \
	"$tree/tests/integration/rdb.tcl" "$suite/tests/integration/"
cp "$tree/tests/unit/other.tcl" "$suite/tests/unit/"
for b in redis-server redis-cli redis-benchmark; do
	ln -s "/paste/redis/bin/$b" "$suite/src/$b"
done
ln -s /paste/redis/bin/redis-server "$suite/src/redis-check-aof"
ln -s /paste/redis/bin/redis-server "$suite/src/redis-check-rdb"
# The framework also runs env, getconf and procps's ps and pgrep (busybox
# has no getconf, and its ps no -p or --ppid).
cp /usr/bin/tclsh8.6 /usr/bin/env /usr/bin/getconf /usr/bin/ps /usr/bin/pgrep \
	"$root/usr/bin/"
cp -r /usr/share/tcltk/tcl8.6 "$root/usr/share/tcltk/"
for b in tclsh8.6 ps pgrep; do ldd /usr/bin/$b; done | grep -o '/[^ ]*' | sort -u | while read -r lib; do
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
done

(cd "$root" && find . | cpio -o -H newc --quiet) > "$out.tmp"
cat "$build/initramfs.cpio" "$out.tmp" > "$out"
rm -f "$out.tmp"
echo "  INITRD  $out ($(du -h "$out" | cut -f1))"
