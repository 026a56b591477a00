#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make run: boot the patched kernel on emulated pmem, start pasted in paste
# mode in the guest and drive it with wrk from the host through QEMU's port
# forward (slirp: slow, but real). The pmem image persists in
# build/pmem-run.img between runs.
set -u
build=$1 flavour=$2
here=$(cd "$(dirname "$0")" && pwd)
log=$build/logs/run.log
port=${RUN_PORT:-18080}
secs=${RUN_SECONDS:-20}
mkdir -p "$build/logs"
: > "$log"

echo "  BOOT    $flavour kernel, NVDIMM $build/pmem-run.img, log $log"
"$here/qemu.sh" "$build/obj-$flavour/arch/x86/boot/bzImage" \
	"$build/initramfs.cpio" "$build/pmem-run.img" "$log" \
	"paste.run=demo quiet" \
	-netdev user,id=n0,hostfwd=tcp:127.0.0.1:$port-:8080 \
	-device virtio-net-pci,netdev=n0,romfile= > /dev/null &
vm=$!

# Wait for pasted in the guest, show the guest's lines as they come.
i=0
until grep -q 'paste-demo: pasted ready' "$log" 2>/dev/null; do
	if ! kill -0 $vm 2>/dev/null || [ $i -ge 600 ]; then
		tr -d '\r' < "$log" | grep -E '^paste-' ; echo "make run: pasted did not come up; see $log"
		exit 1
	fi
	sleep 1
	i=$((i + 1))
done
tr -d '\r' < "$log" | grep -E '^(paste-|\[ *[0-9.]+\] Linux version)'

echo "  WRK     $secs s, 10 connections, 1156-byte durable POSTs -> pasted (paste mode)"
wrk -t1 -c10 -d"${secs}s" --latency -s "$here/post.lua" "http://127.0.0.1:$port/" |
	sed 's/^/  wrk: /'
curl -s -o /dev/null -X POST --data-binary 1 "http://127.0.0.1:$port/demo-done"
wait $vm
tr -d '\r' < "$log" | sed -n '/pasted ready/,$p' | grep -E '^paste-' | tail -n +2
grep -q '^paste-vm: done' "$log" || { echo "make run: the VM did not finish; see $log"; exit 1; }
