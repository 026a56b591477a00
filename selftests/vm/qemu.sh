#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Boot the PASTE kernel in QEMU (TCG, -cpu max,la57=off, 2 vCPUs) with an
# emulated NVDIMM backed by a file, and the test initramfs.
#
# 5-level paging is off (la57=off): on 6.12 with KASAN, an interrupt taken
# while identify_cpu() has boot_cpu_data's feature bits cleared sees
# pgtable_l5_enabled() false, so KASAN's range check calls every direct-map
# address a "wild-memory-access" (seen once in CI at 0.009 s of boot, in
# do_raw_spin_lock). It is timing-dependent and not PASTE code.
#
# The machine is q35, not pc: pc's ACPI _PRT builds its routing table in an
# AML While loop at every PCI device enable, which on the KASAN kernel in TCG
# ran past ACPICA's 30 s loop timeout at boot ("ACPI Error", "no GSI"); q35
# returns a static table. The NVDIMM still sits at 4 GiB (1 GiB of RAM).
#
# Usage: qemu.sh KERNEL INITRD PMEM_IMAGE LOG "EXTRA CMDLINE" [QEMU ARGS...]
# Environment: QEMU (the binary), VM_TIMEOUT (seconds, default 2400),
#              VM_MEM (default 1G), VM_CPU (default max,la57=off),
#              PMEM_SIZE (default 512M).
set -eu
kernel=$1 initrd=$2 img=$3 log=$4 cmdline=$5
shift 5

pmem_size=${PMEM_SIZE:-512M}
[ -f "$img" ] || truncate -s "$pmem_size" "$img"

timeout --foreground -k 10 "${VM_TIMEOUT:-2400}" \
"${QEMU:-qemu-system-x86_64}" \
	-machine q35,nvdimm=on -accel tcg,thread=multi -cpu "${VM_CPU:-max,la57=off}" -smp 2 \
	-m "${VM_MEM:-1G}",slots=2,maxmem=8G \
	-object memory-backend-file,id=mem1,share=on,mem-path="$img",size="$pmem_size" \
	-device nvdimm,id=nv1,memdev=mem1 \
	-kernel "$kernel" -initrd "$initrd" \
	-append "console=ttyS0 panic=-1 oops=panic loglevel=6 $cmdline" \
	-display none -serial stdio -monitor none -no-reboot \
	"$@" < /dev/null 2>&1 | tee "$log"
