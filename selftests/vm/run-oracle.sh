#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# An oracle for "no CPU copy" that does not rely on PASTE's own counters.
# Boot under QEMU 10 with the insncount plugin counting the bytes guest
# instructions store into the NVDIMM (device DMA is not an instruction),
# and run zerocopy_test's store_oracle_windows: it receives 512 KiB from
# the peer NIC with the queue bound, then the same unbound, each between
# two marks, and prints what the kernel counted ("ORACLE NAME bytes N
# copied C zerocopy Z"). Expected, per window:
#
#   zerocopy   stores into the NVDIMM == 0 (nothing copied, all placed)
#   copy       stores into the NVDIMM >= N (the kernel copied every byte)
#
# Usage: run-oracle.sh BUILD FLAVOUR
set -u
build=$1 flavour=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/splat.sh"
kernel=$build/obj-$flavour/arch/x86/boot/bzImage
img=$build/pmem-oracle.img
log=$build/logs/oracle.log
q10=$build/qemu10
base=0x100000000	# where QEMU's q35 machine puts the first NVDIMM (1 GiB of RAM)
size_mib=512
mkdir -p "$build/logs"

echo "# oracle: NVDIMM stores counted by QEMU 10's insncount plugin, $flavour kernel"
boot() {
	rm -f "$img"
	QEMU=$q10/usr/bin/qemu-system-x86_64 QEMU_MODULE_DIR=$q10/usr/lib/x86_64-linux-gnu/qemu \
	PMEM_SIZE=${size_mib}M VM_TIMEOUT=1200 \
	"$here/qemu.sh" "$kernel" "$build/initramfs.cpio" "$img" "$log" \
		"paste.run=oracle" -nodefaults -L /usr/share/qemu \
		-plugin "$build/qemu-plugins/insncount.so,pmem=$(printf '%x:%x' $base $((size_mib << 20)))" \
		-d plugin \
		-netdev user,id=n0 -device virtio-net-pci,netdev=n0,romfile= \
		-netdev hubport,id=zc0,hubid=1 \
		-device virtio-net-pci,netdev=zc0,romfile=,mac=52:54:00:50:00:01 \
		-netdev hubport,id=zc1,hubid=1 \
		-device virtio-net-pci,netdev=zc1,romfile=,mac=52:54:00:50:00:02 \
		> /dev/null 2>&1
	rm -f "$img"
}
boot
# QEMU 10's own assertion (TCG with plugins), not the guest: boot once more.
if grep -q 'iotlb_to_section: Assertion' "$log" && ! grep -q '^paste-oracle: exit' "$log"; then
	echo "# QEMU 10 hit its iotlb_to_section assertion; booting again"
	boot
fi
tr -d '\r' < "$log" > "$log.txt"

fail=0 n=0
why=
grep -q "iomem $(printf '%x' $base)-" "$log.txt" || why="the NVDIMM is not at $base"
grep -q '^paste-oracle: exit 0' "$log.txt" || why="${why:-zerocopy_test store_oracle_windows failed}"
splat_in "$log.txt" && why="${why:-kernel splat}"
if [ -n "$why" ]; then
	grep -E '^#|^ok|^not ok|^ORACLE' "$log.txt" | sed 's/^/# /'
	echo "not ok 1 oracle: $why; see $log"
	echo "oracle: 0 passed, 1 failed"
	exit 1
fi

# Window k (k-th ORACLE line) lies between marks 2k-1 and 2k.
results=$(awk '
	/^insncount: mark [0-9]+ pmem / { pmem[$3] = $5; next }
	/^ORACLE / { name[++k] = $2; bytes[k] = $4; copied[k] = $6 }
	END {
		for (i = 1; i <= k; i++) {
			a = 2 * i - 1; b = 2 * i
			if (!(a in pmem) || !(b in pmem)) { print name[i], "-", bytes[i], copied[i]; continue }
			print name[i], pmem[b] - pmem[a], bytes[i], copied[i]
		}
	}' "$log.txt")
while read -r name stores bytes copied; do
	n=$((n + 1))
	what="$name: $bytes payload bytes, kernel copied $copied, CPU stores into the NVDIMM $stores"
	case $name:$stores in
	*:-)		ok=0 what="$name: no marks around the window" ;;
	zerocopy:*)	ok=$([ "$stores" -eq 0 ] && echo 1 || echo 0); what="$what (expected 0)" ;;
	copy:*)		ok=$([ "$stores" -ge "$bytes" ] && echo 1 || echo 0); what="$what (expected >= $bytes)" ;;
	*)		ok=0 ;;
	esac
	if [ "$ok" = 1 ]; then
		echo "ok $n oracle $what"
	else
		echo "not ok $n oracle $what"
		fail=$((fail + 1))
	fi
done <<EOF
$results
EOF
[ $n = 2 ] || { echo "not ok $((n + 1)) oracle: $n windows, expected 2"; fail=$((fail + 1)) n=$((n + 1)); }
echo "oracle: $((n - fail)) passed, $fail failed"
[ $fail = 0 ]
