#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Run every selftest in the VM on the given kernel flavour and judge the run:
# exit non-zero on any failed test, timeout, or kernel splat in the log.
#
# Boot 1 runs the tests that prepare data for a reboot, boot 2 runs the rest
# on the same pmem image. KEEP_PMEM=1 reuses the image of the previous run.
# LEVEL (check or full) chooses the lines of tests.list that run.
# Usage: run-tests.sh BUILD FLAVOUR LEVEL
set -u
build=$1 flavour=$2 level=${3:-check}
here=$(dirname "$0")
kernel=$build/obj-$flavour/arch/x86/boot/bzImage
initrd=$build/initramfs.cpio
img=$build/pmem-test.img
# A second NVDIMM for the XFS tests (sparse; mkfs.xfs wants 300 MB).
xfs_img=$build/pmem-xfs.img
logs=$build/logs
mkdir -p "$logs"

[ "${KEEP_PMEM:-0}" = 1 ] || rm -f "$img"
rm -f "$xfs_img"
truncate -s 512M "$xfs_img"
nonce=$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
kmemleak=
[ "$flavour" = debug ] && kmemleak=kmemleak=on

. "$here/splat.sh"

# A third extra NIC with two queue pairs, for the tests that change the
# channels under a bound queue: only a tap backend has several queues.
# Nothing needs to reach it, nor the fourth, which goes through the DMA API
# (VIRTIO_F_ACCESS_PLATFORM) and stays down.
mq_tap=pastemq$$
ip tuntap add dev "$mq_tap" mode tap multi_queue && ip link set "$mq_tap" up ||
	{ echo "# cannot create tap $mq_tap (root and /dev/net/tun needed)"; exit 1; }
trap 'ip link del "$mq_tap" 2>/dev/null' EXIT
trap 'exit 130' INT TERM

pass=0 fail=0 skip=0 bad=0
for boot in 1 2; do
	log=$logs/check-boot$boot.log
	echo "# boot $boot: $(basename "$kernel") ($flavour) on $(basename "$img"), $level tests"
	for attempt in 1 2; do
		"$here/qemu.sh" "$kernel" "$initrd" "$img" "$log" \
			"paste.run=tests paste.boot=$boot paste.level=$level paste.nonce=$nonce $kmemleak" \
			-object memory-backend-file,id=mem2,share=on,mem-path="$xfs_img",size=512M \
			-device nvdimm,id=nv2,memdev=mem2 \
			-netdev user,id=n0 -device virtio-net-pci,netdev=n0,romfile= \
			-netdev hubport,id=zc0,hubid=1 \
			-device virtio-net-pci,netdev=zc0,romfile=,mac=52:54:00:50:00:01 \
			-netdev hubport,id=zc1,hubid=1 \
			-device virtio-net-pci,netdev=zc1,romfile=,mac=52:54:00:50:00:02 \
			-netdev tap,id=mq0,ifname="$mq_tap",script=no,downscript=no,vhost=off,queues=2 \
			-device virtio-net-pci,netdev=mq0,mq=on,vectors=6,romfile=,mac=52:54:00:50:00:03 \
			-netdev hubport,id=io0,hubid=2 \
			-device virtio-net-pci,netdev=io0,romfile=,mac=52:54:00:50:00:04,disable-legacy=on,iommu_platform=on \
			> /dev/null
		rc=$?
		[ $attempt = 1 ] && early_panic "$log" || break
	done
	tr -d '\r' < "$log" > "$log.txt"
	sed -n '/^TAP version/,/^paste-vm: totals/p' "$log.txt"
	splat_in "$log.txt" && bad=1
	totals=$(grep -o 'paste-vm: totals pass:[0-9]* fail:[0-9]* skip:[0-9]*' "$log.txt" | tail -1)
	if [ -z "$totals" ]; then
		echo "# boot $boot: no test totals (VM exit $rc); see $log"
		grep 'paste-vm:' "$log.txt" | sed 's/^/# /'
		bad=1
		continue
	fi
	set -- $(echo "$totals" | tr -c '0-9\n' ' ')
	pass=$((pass + $1)) fail=$((fail + $2)) skip=$((skip + $3))
	grep -q '^paste-vm: done' "$log.txt" || { echo "# boot $boot: VM did not finish"; bad=1; }
done

summary="$pass passed, $fail failed"
[ "$skip" -eq 0 ] || summary="$summary, $skip skipped"
echo "$summary"
[ "$fail" -eq 0 ] && [ "$bad" -eq 0 ]
