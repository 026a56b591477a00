#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Guest side of "make bench-redis": Redis on vCPU 0, redis-benchmark (the
# unmodified client) on vCPU 1 in network namespace "client", crossing the
# two virtio-net NICs of a QEMU hub. 1 KiB values, -t set,get, at -c 1 -P 1
# (every SET pays its own commit) and -c 50 -P 16, for:
#   off       stock Redis, appendonly no
#   no        stock Redis, appendfsync no
#   everysec  stock Redis, appendfsync everysec
#   always    stock Redis, appendfsync always
#   paste     Redis on PASTE, appendfsync paste (the kernel copies into
#             the region at receive)
#   paste-zc  the same with paste-zero-copy: the NIC writes the region
# all on the same ext4-DAX pmem. The region (256 MiB of buffers) and the
# request counts are sized so that no rewrite runs; each line says how
# many did (rewrites=0 expected).
# One line per measurement:
#   RBENCH,mode,conns,pipeline,test,requests,rps,
#          kernel_copied_per_req,log_copied_per_req,aof_bytes_per_req,rewrites
# paste.bench=insn brackets each SET run with insnmark instead and prints
#   RINSN,mode,conns,pipeline,requests,first_mark,second_mark
profile=quick
for a in $(cat /proc/cmdline); do
	case "$a" in
	paste.bench=*) profile=${a#*=} ;;
	paste.modes=*) only=$(echo "${a#*=}" | tr , ' ') ;;
	esac
done
modes=${only:-off no everysec always paste paste-zc}
bin=/paste/redis/bin
dir=/mnt/pmem/rbench
points="1:1:3000 50:16:40000"
reps=1
[ "$profile" = full ] && reps=3
[ "$profile" = insn ] && points="1:1:1000 50:16:10000"
export PATH=$bin:$PATH

. /paste/nic-pair.sh
nic_pair client || echo "RBENCH-INFO no NIC pair"
echo "RBENCH-INFO profile=$profile reps=$reps cpus=$(nproc) nic=$nic"

counter() { awk -v k="$1" '$1 == k { print $2 }' /proc/net/paste; }
info() { redis-cli info "$1" | tr -d '\r' | awk -F: -v k="$2" '$1 == k { print $2 }'; }

mark=0
for rep in $(seq $reps); do
for point in $points; do
c=${point%%:*} rest=${point#*:}
p=${rest%%:*} n=${rest#*:}
for mode in $modes; do
	rm -rf $dir && mkdir -p $dir
	server=redis-server-stock
	conf="--appendonly yes"
	case $mode in
	off) conf="--appendonly no" ;;
	no|everysec|always) conf="$conf --appendfsync $mode" ;;
	paste*)	server=redis-server
		conf="$conf --appendfsync paste --paste-region $dir/region
			--paste-region-size 256mb --paste-log-size 16mb"
		[ $mode = paste-zc ] && conf="$conf --paste-zero-copy $nic" ;;
	esac
	taskset -c 0 $server --dir $dir --save "" --protected-mode no \
		--logfile $dir/log $conf --daemonize yes
	for i in $(seq 100); do
		[ "$(redis-cli ping 2>/dev/null | tr -d '\r')" = PONG ] && break
		sleep 0.1
	done
	for t in set get; do
		k0=$(counter PasteBytesCopied)
		l0=$(info persistence paste_logged_copied_bytes)
		a0=$(info persistence aof_current_size)
		[ $profile = insn ] && { [ $t = set ] || continue; insnmark; mark=$((mark + 1)); }
		/sbin/ip netns exec client taskset -c 1 redis-benchmark -h 10.78.0.1 \
			-c $c -P $p -n $n -d 1024 -r 100000 -t $t --csv \
			> /tmp/rb.out 2>&1
		[ $profile = insn ] && insnmark && mark=$((mark + 1))
		k1=$(counter PasteBytesCopied)
		l1=$(info persistence paste_logged_copied_bytes)
		a1=$(info persistence aof_current_size)
		rw=$(info persistence aof_rewrites)
		if [ $profile = insn ]; then
			echo "RINSN,$mode,$c,$p,$n,$((mark - 1)),$mark"
			continue
		fi
		rps=$(awk -F'"' 'NR == 2 { print $4 }' /tmp/rb.out)
		echo "RBENCH,$mode,$c,$p,$t,$n,${rps:-0},$(awk -v k=$((k1 - k0)) \
			-v l=$((${l1:-0} - ${l0:-0})) -v a=$((${a1:-0} - ${a0:-0})) -v n=$n \
			'BEGIN { printf "%.1f,%.1f,%.1f", k / n, l / n, a / n }'),${rw:-0}"
	done
	redis-cli shutdown nosave > /dev/null 2>&1
	sleep 0.3
done; done; done
echo "RBENCH-DONE"
