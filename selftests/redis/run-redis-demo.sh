#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make run-redis: boot the lean kernel with the Redis initramfs and show
# Redis on PASTE under redis-benchmark with its counters, then a crash and
# its recovery (selftests/redis/redis-demo.sh).
set -u
build=$1 flavour=$2
vm=$(cd "$(dirname "$0")/../vm" && pwd)
log=$build/logs/run-redis.log
mkdir -p "$build/logs"
echo "  BOOT    $flavour kernel, NVDIMM $build/pmem-run-redis.img, log $log"
rm -f "$build/pmem-run-redis.img"
PMEM_SIZE=1G VM_MEM=2G "$vm/qemu.sh" "$build/obj-$flavour/arch/x86/boot/bzImage" \
	"$build/initramfs-redis.cpio" "$build/pmem-run-redis.img" "$log" \
	"paste.run=redis-demo quiet" \
	-netdev hubport,id=b0,hubid=1 \
	-device virtio-net-pci,netdev=b0,romfile=,mac=52:54:00:50:00:01 \
	-netdev hubport,id=b1,hubid=1 \
	-device virtio-net-pci,netdev=b1,romfile=,mac=52:54:00:50:00:02 |
	tr -d '\r' | grep --line-buffered -E '^paste-redis:'
grep -q '^paste-vm: done' "$log" || { echo "make run-redis: the VM did not finish; see $log"; exit 1; }
