#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make run: boot the patched kernel with emulated pmem, set up fsdax + ext4
# -o dax=always, and show PASTE at work. The pmem image persists in
# build/pmem-run.img between runs.
set -u
build=$1 flavour=$2
here=$(dirname "$0")
log=$build/logs/run.log
mkdir -p "$build/logs"

echo "  BOOT    $flavour kernel, NVDIMM $build/pmem-run.img (log: $log)"
"$here/qemu.sh" "$build/obj-$flavour/arch/x86/boot/bzImage" \
	"$build/initramfs.cpio.gz" "$build/pmem-run.img" "$log" \
	"paste.run=demo quiet" \
	-netdev user,id=n0 -device virtio-net-pci,netdev=n0,romfile= |
	tr -d '\r' | grep --line-buffered -E '^(paste-|Linux version)'
grep -q '^paste-vm: done' "$log" || { echo "make run: the VM did not finish; see $log"; exit 1; }
