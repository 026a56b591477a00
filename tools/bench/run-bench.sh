#!/bin/sh
# SPDX-License-Identifier: MIT
#
# make bench: one boot of the lean kernel runs every persistence mode on
# both event loops under wrk; a second boot, under QEMU 10 with the
# insncount plugin, measures guest instructions per request. Then a CSV,
# a table of medians with ratios, and gnuplot figures under build/bench/.
# BENCH=full for the paper's whole grid (both messages, 1/5/10/50/100
# connections, 3 repetitions); BENCH=pair for an A/B comparison at 50
# connections (5 repetitions); BENCH=nic for paste with and without zero
# copy, the client crossing two virtio-net NICs (10 and 50 connections). BENCH_MODES=none,paste,paste+2048 limits
# the modes ("paste+N" is pasted --slot-size N).
set -u
build=$1
here=$(cd "$(dirname "$0")" && pwd)
vm=$here/../../selftests/vm
. "$vm/splat.sh"
kernel=$build/obj-lean/arch/x86/boot/bzImage
initrd=$build/initramfs.cpio
out=$build/bench
q10=$build/qemu10
mkdir -p "$out" "$build/logs"
rm -f "$out"/*.png "$out"/*.dat "$out"/*.csv "$out"/table.txt
log=$build/logs/bench.log
ilog=$build/logs/bench-insn.log
# The NVDIMM's backing file on tmpfs: on disk, the host's writeback of the
# pages the guest dirties would compete with the vCPUs for the two cores,
# and only in the modes that write to pmem.
shm=/dev/shm
[ -d "$shm" ] && [ -w "$shm" ] || shm=$build
img=$shm/paste-bench-$$.img
trap 'rm -f "$img"' EXIT
modes=${BENCH_MODES:+ paste.modes=$BENCH_MODES}
imodes=$modes
[ "${BENCH:-}" = nic ] && [ -z "$modes" ] && imodes=" paste.modes=paste@nic,paste-zc"
# Two NICs on a QEMU hub, for the modes that cross a NIC ("M@nic",
# "paste-zc"): the client in the guest sends through one to the other.
nics="-netdev hubport,id=b0,hubid=1
	-device virtio-net-pci,netdev=b0,romfile=,mac=52:54:00:50:00:01
	-netdev hubport,id=b1,hubid=1
	-device virtio-net-pci,netdev=b1,romfile=,mac=52:54:00:50:00:02"

echo "  BENCH   profile ${BENCH:-quick}: booting the lean kernel (log $log)"
rm -f "$img"
VM_TIMEOUT=${BENCH_TIMEOUT:-10800} PMEM_SIZE=1G VM_MEM=2G \
"$vm/qemu.sh" "$kernel" "$initrd" "$img" "$log" \
	"paste.run=bench paste.bench=${BENCH:-quick}$modes quiet" $nics > /dev/null
grep -q 'BENCH-DONE' "$log" || { echo "make bench: the run did not finish; see $log"; exit 1; }
! splat_in "$log" || { echo "make bench: kernel splat; see $log"; exit 1; }
{ echo "mode,loop,body,req_bytes,resp_bytes,conns,rep,req_per_s,lat_avg_us,lat_p99_us,user_copied_per_req,kernel_copied_per_req,resp_bytes_seen"
  tr -d '\r' < "$log" | grep '^BENCH,' | cut -d, -f2-; } > "$out/results.csv"

echo "  BENCH   instructions per request: QEMU 10 + insncount plugin (log $ilog)"
rm -f "$img"
# Kernel functions whose calls are counted too (addresses need nokaslr).
events="exc_page_fault dax_iomap_fault flush_tlb_func sysvec_call_function_single
	schedule do_idle __x64_sys_epoll_wait __x64_sys_io_uring_enter
	__x64_sys_recvmsg __x64_sys_recvfrom __x64_sys_sendto __x64_sys_ioctl
	paste_recv_skb"
fnargs=
for f in $events; do
	a=$(awk -v f="$f" '$3 == f && ($2 == "T" || $2 == "t") { print $1; exit }' \
		"$build/obj-lean/System.map")
	[ -n "$a" ] && fnargs="$fnargs,fn=$f@$a"
done
QEMU=$q10/usr/bin/qemu-system-x86_64 QEMU_MODULE_DIR=$q10/usr/lib/x86_64-linux-gnu/qemu \
VM_TIMEOUT=3600 PMEM_SIZE=1G VM_MEM=2G \
"$vm/qemu.sh" "$kernel" "$initrd" "$img" "$ilog" \
	"paste.run=bench paste.bench=insn$imodes quiet nokaslr" -nodefaults -L /usr/share/qemu \
	-plugin "$build/qemu-plugins/insncount.so,pmem=100000000:40000000$fnargs" -d plugin $nics > /dev/null
rm -f "$img"
grep -q 'BENCH-DONE' "$ilog" || { echo "make bench: the instruction run did not finish; see $ilog"; exit 1; }
! splat_in "$ilog" || { echo "make bench: kernel splat; see $ilog"; exit 1; }
# Join each INSN line with the two marks around it.
tr -d '\r' < "$ilog" | awk -F, -v ev="$out/events.csv" '
	/^insncount: mark [0-9]+ pmem / { split($0, f, " "); pm[f[3]] = f[5]; next }
	/^insncount: mark [0-9]+ fn / {
		nf = split($0, f, " ")
		for (i = 5; i < nf; i += 2) { fn[f[3], f[i]] = f[i + 1]; names[f[i]] = 1 }
		next
	}
	/^insncount: mark / {
		nf = split($0, f, " ")
		m = f[3]; tot = 0
		for (i = 4; i < nf; i += 2) tot += f[i + 1]
		v0[m] = f[5]; all[m] = tot
		next
	}
	/^INSN,/ { line[++n] = $0 }
	END {
		print "mode,loop,body,conns,requests,insn_per_req_vcpu0,insn_per_req_total,pmem_store_bytes_per_req"
		print "mode,loop,event,per_request" > ev
		for (i = 1; i <= n; i++) {
			split(line[i], g, ",")
			a = g[7]; b = g[8]; r = g[6]
			if (r > 0 && (b in all) && (a in all)) {
				printf "%s,%s,%s,%s,%s,%.0f,%.0f,%.0f\n", g[2], g[3], g[4], g[5], r,
					(v0[b] - v0[a]) / r, (all[b] - all[a]) / r, (pm[b] - pm[a]) / r
				for (e in names)
					printf "%s,%s,%s,%.3f\n", g[2], g[3], e,
						(fn[b, e] - fn[a, e]) / r > ev
			}
		}
	}' > "$out/insn.csv"
python3 "$here/report.py" "$out"
