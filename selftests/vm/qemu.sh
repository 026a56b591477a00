#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Boot the PASTE kernel in QEMU (TCG, -cpu max, 2 vCPUs) with an emulated
# NVDIMM backed by a file, and the test initramfs.
#
# Usage: qemu.sh KERNEL INITRD PMEM_IMAGE LOG "EXTRA CMDLINE" [QEMU ARGS...]
# Environment: QEMU (the binary), VM_TIMEOUT (seconds, default 2400),
#              VM_MEM (default 1G),
#              PMEM_SIZE (default 512M).
set -eu
kernel=$1 initrd=$2 img=$3 log=$4 cmdline=$5
shift 5

pmem_size=${PMEM_SIZE:-512M}
[ -f "$img" ] || truncate -s "$pmem_size" "$img"

timeout --foreground -k 10 "${VM_TIMEOUT:-2400}" \
"${QEMU:-qemu-system-x86_64}" \
	-machine pc,nvdimm=on -accel tcg,thread=multi -cpu max -smp 2 \
	-m "${VM_MEM:-1G}",slots=2,maxmem=8G \
	-object memory-backend-file,id=mem1,share=on,mem-path="$img",size="$pmem_size" \
	-device nvdimm,id=nv1,memdev=mem1 \
	-kernel "$kernel" -initrd "$initrd" \
	-append "console=ttyS0 panic=-1 oops=panic loglevel=6 $cmdline" \
	-display none -serial stdio -monitor none -no-reboot \
	"$@" < /dev/null 2>&1 | tee "$log"
