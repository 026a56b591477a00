#!/bin/sh
# SPDX-License-Identifier: MIT
#
# make bench-redis: one boot of the lean kernel runs redis-benchmark against
# stock Redis (AOF off, appendfsync no, everysec, always) and Redis on PASTE
# (with and without zero copy), side by side (tools/redis/bench-guest.sh);
# a second boot, under QEMU 10 with the insncount plugin, counts guest
# instructions and NVDIMM stores per SET. Then CSVs, a table of ratios and
# a gnuplot figure under build/bench-redis/. BENCH=full: 3 repetitions.
# BENCH_MODES=off,paste limits the modes.
set -u
build=$1
here=$(cd "$(dirname "$0")" && pwd)
vm=$here/../../selftests/vm
. "$vm/splat.sh"
kernel=$build/obj-lean/arch/x86/boot/bzImage
initrd=$build/initramfs-redis.cpio
out=$build/bench-redis
q10=$build/qemu10
mkdir -p "$out" "$build/logs"
rm -f "$out"/*
log=$build/logs/bench-redis.log
ilog=$build/logs/bench-redis-insn.log
shm=/dev/shm
[ -d "$shm" ] && [ -w "$shm" ] || shm=$build
img=$shm/paste-rbench-$$.img
trap 'rm -f "$img"' EXIT
modes=${BENCH_MODES:+ paste.modes=$BENCH_MODES}
nics="-netdev hubport,id=b0,hubid=1
	-device virtio-net-pci,netdev=b0,romfile=,mac=52:54:00:50:00:01
	-netdev hubport,id=b1,hubid=1
	-device virtio-net-pci,netdev=b1,romfile=,mac=52:54:00:50:00:02"

echo "  BENCH   redis-benchmark, profile ${BENCH:-quick}: booting the lean kernel (log $log)"
VM_TIMEOUT=${BENCH_TIMEOUT:-7200} PMEM_SIZE=2G VM_MEM=2G \
"$vm/qemu.sh" "$kernel" "$initrd" "$img" "$log" \
	"paste.run=redis-bench paste.bench=${BENCH:-quick}$modes quiet" $nics > /dev/null
grep -q 'RBENCH-DONE' "$log" || { echo "make bench-redis: the run did not finish; see $log"; exit 1; }
! splat_in "$log" || { echo "make bench-redis: kernel splat; see $log"; exit 1; }
{ echo "mode,conns,pipeline,test,requests,rps,kernel_copied_per_req,log_copied_per_req,aof_bytes_per_req,rewrites"
  tr -d '\r' < "$log" | grep '^RBENCH,' | cut -d, -f2-; } > "$out/results.csv"

echo "  BENCH   instructions per SET: QEMU 10 + insncount plugin (log $ilog)"
rm -f "$img"
QEMU=$q10/usr/bin/qemu-system-x86_64 QEMU_MODULE_DIR=$q10/usr/lib/x86_64-linux-gnu/qemu \
VM_TIMEOUT=3600 PMEM_SIZE=2G VM_MEM=2G \
"$vm/qemu.sh" "$kernel" "$initrd" "$img" "$ilog" \
	"paste.run=redis-bench paste.bench=insn$modes quiet" -nodefaults -L /usr/share/qemu \
	-plugin "$build/qemu-plugins/insncount.so,pmem=100000000:80000000" -d plugin $nics > /dev/null
grep -q 'RBENCH-DONE' "$ilog" || { echo "make bench-redis: the instruction run did not finish; see $ilog"; exit 1; }
! splat_in "$ilog" || { echo "make bench-redis: kernel splat; see $ilog"; exit 1; }
# Join each RINSN line with the marks around it.
tr -d '\r' < "$ilog" | awk -F, '
	/^insncount: mark [0-9]+ pmem / { split($0, f, " "); pm[f[3]] = f[5]; next }
	/^insncount: mark [0-9]+ fn / { next }
	/^insncount: mark / {
		nf = split($0, f, " ")
		m = f[3]; tot = 0
		for (i = 4; i < nf; i += 2) tot += f[i + 1]
		v0[m] = f[5]; all[m] = tot
		next
	}
	/^RINSN,/ { line[++n] = $0 }
	END {
		print "mode,conns,pipeline,requests,insn_per_set_vcpu0,insn_per_set_total,pmem_store_bytes_per_set"
		for (i = 1; i <= n; i++) {
			split(line[i], g, ",")
			a = g[6]; b = g[7]; r = g[5]
			if (r > 0 && (b in all) && (a in all))
				printf "%s,%s,%s,%s,%.0f,%.0f,%.0f\n", g[2], g[3], g[4], r,
					(v0[b] - v0[a]) / r, (all[b] - all[a]) / r, (pm[b] - pm[a]) / r
		}
	}' > "$out/insn.csv"
python3 "$here/bench-report.py" "$out"
