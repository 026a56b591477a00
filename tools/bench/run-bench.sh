#!/bin/sh
# SPDX-License-Identifier: MIT
#
# make bench: one boot of the lean kernel runs every persistence mode on
# both event loops under wrk; a second boot, under QEMU 10 with the
# insncount plugin, measures guest instructions per request. Then a CSV,
# a table of medians with ratios, and gnuplot figures under build/bench/.
# BENCH=full for the paper's whole grid (both messages, 1/5/10/50/100
# connections, 3 repetitions).
set -u
build=$1
here=$(cd "$(dirname "$0")" && pwd)
vm=$here/../../selftests/vm
kernel=$build/obj-lean/arch/x86/boot/bzImage
initrd=$build/initramfs.cpio.gz
out=$build/bench
q10=$build/qemu10
mkdir -p "$out" "$build/logs"
log=$build/logs/bench.log
ilog=$build/logs/bench-insn.log

echo "  BENCH   profile ${BENCH:-quick}: booting the lean kernel (log $log)"
rm -f "$build/pmem-bench.img"
VM_TIMEOUT=${BENCH_TIMEOUT:-10800} PMEM_SIZE=1G VM_MEM=2G \
"$vm/qemu.sh" "$kernel" "$initrd" "$build/pmem-bench.img" "$log" \
	"paste.run=bench paste.bench=${BENCH:-quick} quiet" > /dev/null
grep -q 'BENCH-DONE' "$log" || { echo "make bench: the run did not finish; see $log"; exit 1; }
{ echo "mode,loop,body,req_bytes,resp_bytes,conns,rep,req_per_s,lat_avg_us,lat_p99_us,user_copied_per_req,kernel_copied_per_req,resp_bytes_seen"
  tr -d '\r' < "$log" | grep '^BENCH,' | cut -d, -f2-; } > "$out/results.csv"

echo "  BENCH   instructions per request: QEMU 10 + insncount plugin (log $ilog)"
rm -f "$build/pmem-bench.img"
QEMU=$q10/usr/bin/qemu-system-x86_64 QEMU_MODULE_DIR=$q10/usr/lib/x86_64-linux-gnu/qemu \
VM_TIMEOUT=3600 PMEM_SIZE=1G VM_MEM=2G \
"$vm/qemu.sh" "$kernel" "$initrd" "$build/pmem-bench.img" "$ilog" \
	"paste.run=bench paste.bench=insn quiet" -nodefaults -L /usr/share/qemu \
	-plugin "$build/qemu-plugins/insncount.so" -d plugin > /dev/null
rm -f "$build/pmem-bench.img"
grep -q 'BENCH-DONE' "$ilog" || { echo "make bench: the instruction run did not finish; see $ilog"; exit 1; }
# Join each INSN line with the two marks around it.
tr -d '\r' < "$ilog" | awk -F, '
	/^insncount: mark / {
		nf = split($0, f, " ")
		m = f[3]; tot = 0
		for (i = 4; i < nf; i += 2) tot += f[i + 1]
		v0[m] = f[5]; all[m] = tot
		next
	}
	/^INSN,/ { line[++n] = $0 }
	END {
		print "mode,loop,body,conns,requests,insn_per_req_vcpu0,insn_per_req_total"
		for (i = 1; i <= n; i++) {
			split(line[i], g, ",")
			a = g[7]; b = g[8]; r = g[6]
			if (r > 0 && (b in all) && (a in all))
				printf "%s,%s,%s,%s,%s,%.0f,%.0f\n", g[2], g[3], g[4], g[5], r,
					(v0[b] - v0[a]) / r, (all[b] - all[a]) / r
		}
	}' > "$out/insn.csv"
python3 "$here/report.py" "$out"
