#!/bin/sh
# SPDX-License-Identifier: MIT
#
# make bench: one boot of the lean kernel, every persistence mode on both
# event loops under wrk, then a CSV, a table of medians with ratios, and
# gnuplot figures under build/bench/. BENCH=full for the paper's whole grid
# (1003/1024-byte bodies, 1/5/10/50/100 connections, 3 repetitions).
set -u
build=$1
here=$(cd "$(dirname "$0")" && pwd)
out=$build/bench
mkdir -p "$out" "$build/logs"
log=$build/logs/bench.log
rm -f "$build/pmem-bench.img"

echo "  BENCH   profile ${BENCH:-quick}: booting the lean kernel (log $log)"
VM_TIMEOUT=${BENCH_TIMEOUT:-7200} PMEM_SIZE=1G VM_MEM=2G \
"$here/../../selftests/vm/qemu.sh" "$build/obj-lean/arch/x86/boot/bzImage" \
	"$build/initramfs.cpio.gz" "$build/pmem-bench.img" "$log" \
	"paste.run=bench paste.bench=${BENCH:-quick} quiet" > /dev/null
tr -d '\r' < "$log" | grep '^BENCH,' | cut -d, -f2- > "$out/results.csv.tmp"
grep -q 'BENCH-DONE' "$log" || { echo "make bench: the run did not finish; see $log"; exit 1; }
{ echo "mode,loop,body,conns,rep,req_per_s,lat_avg_us,lat_p99_us,user_copied_per_req,kernel_copied_per_req"
  cat "$out/results.csv.tmp"; } > "$out/results.csv"
rm -f "$out/results.csv.tmp"
python3 "$here/report.py" "$out"
