#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Redis on PASTE in the VM: boot the given kernel flavour with the Redis
# initramfs, run redis-guest.sh, and judge the run as run-tests.sh does:
# non-zero on a failed test, a timeout or a kernel splat.
# Usage: run-redis-tests.sh BUILD FLAVOUR LEVEL
# Environment: REDIS_TESTS (a comma-separated subset of redis-guest.sh's).
set -u
build=$1 flavour=$2 level=${3:-check}
vm=$(cd "$(dirname "$0")/../vm" && pwd)
kernel=$build/obj-$flavour/arch/x86/boot/bzImage
img=$build/pmem-redis.img
log=$build/logs/redis-$flavour.log
mkdir -p "$build/logs"
rm -f "$img"
kmemleak=
[ "$flavour" = debug ] && kmemleak=kmemleak=on
# full adds three of Redis's own test units (aof-suite.sh): about 30 min.
timeout=1200
[ "$level" = full ] && timeout=3600
. "$vm/splat.sh"

echo "# redis: $(basename "$kernel") ($flavour), $level tests"
for attempt in 1 2; do
	PMEM_SIZE=1G VM_TIMEOUT=${VM_TIMEOUT:-$timeout} "$vm/qemu.sh" "$kernel" \
		"$build/initramfs-redis.cpio" "$img" "$log" \
		"paste.run=redis paste.level=$level paste.tests=${REDIS_TESTS:-} $kmemleak" \
		-netdev hubport,id=zc0,hubid=1 \
		-device virtio-net-pci,netdev=zc0,romfile=,mac=52:54:00:50:00:01 \
		-netdev hubport,id=zc1,hubid=1 \
		-device virtio-net-pci,netdev=zc1,romfile=,mac=52:54:00:50:00:02 \
		> /dev/null
	rc=$?
	[ $attempt = 1 ] && early_panic "$log" || break
done
tr -d '\r' < "$log" > "$log.txt"
sed -n '/^TAP version/,/^paste-vm: totals/p' "$log.txt"
bad=0
# The tests' own output ("# " lines) may say WARNING: the kernel's may not.
grep -v '^# ' "$log.txt" > "$log.kernel"
splat_in "$log.kernel" && bad=1
totals=$(grep -o 'paste-vm: totals pass:[0-9]* fail:[0-9]* skip:[0-9]*' "$log.txt" | tail -1)
if [ -z "$totals" ]; then
	echo "# redis: no test totals (VM exit $rc); see $log"
	grep 'paste-vm:' "$log.txt" | sed 's/^/# /'
	echo "0 passed, 1 failed"
	exit 1
fi
grep -q '^paste-vm: done' "$log.txt" || { echo "# redis: the VM did not finish"; bad=1; }
set -- $(echo "$totals" | tr -c '0-9\n' ' ')
echo "$1 passed, $2 failed"
[ "$2" -eq 0 ] && [ $bad -eq 0 ]
