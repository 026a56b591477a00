#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Guest side of "make bench": pasted on vCPU 0, wrk on vCPU 1 over loopback
# (the client never shares a core with the server, and the emulator's NIC
# is not in the path). The paper's two messages:
#   A: 1135-byte POST (1003-byte body), 127-byte response
#   B: 1156-byte POST (1024-byte body), 151-byte response
# One line per measurement:
#   BENCH,mode,loop,body,req_bytes,resp_bytes,conns,rep,req_per_s,
#         lat_avg_us,lat_p99_us,user_copied_per_req,kernel_copied_per_req,
#         resp_bytes_seen
# paste.bench=insn instead brackets each run with insnmark (the host's
# insncount plugin reports instruction counts there) and prints
#   INSN,mode,loop,body,conns,requests,first_mark,second_mark
# A mode "paste+N" runs pasted --slot-size N. A mode "M@nic" runs mode M
# with wrk in another network namespace, across two virtio-net NICs joined
# by a QEMU hub; "paste-zc" is paste@nic with the server NIC's receive
# queue bound to the region (zero copy). paste.bench=nic compares those.
# Parameters come from the kernel command line:
# paste.bench=quick|full|pair|nic|insn, paste.modes=M1,M2,...
profile=quick
for a in $(cat /proc/cmdline); do
	case "$a" in
	paste.bench=*) profile=${a#*=} ;;
	paste.modes=*) only=$(echo "${a#*=}" | tr , ' ') ;;
	esac
done
modes=${only:-none fsync fdatasync memcpy readmmap paste}
loops="epoll uring"
case $profile in
full)	msgs="1003:1135:127 1024:1156:151" conns="1 5 10 50 100" reps=3 secs=4 ;;
insn)	msgs="1024:1156:151" conns="10" reps=1 secs=2 ;;
pair)	msgs="1024:1156:151" conns="50" reps=5 secs=4 ;;
nic)	msgs="1024:1156:151" conns="10 50" reps=3 secs=4
	modes=${only:-paste@nic paste-zc} ;;
*)	msgs="1024:1156:151" conns="1 10 50 100" reps=1 secs=3 ;;
esac

# The two hub NICs (run-bench.sh): the server's in this namespace, the
# client's in namespace "client".
. /paste/nic-pair.sh
nic=
case " $modes " in
*@nic*|*paste-zc*) nic_pair client || echo "BENCH-INFO no NIC pair: @nic modes will fail" ;;
esac
echo "BENCH-INFO profile=$profile secs=$secs reps=$reps cpus=$(nproc)"

us() {	# wrk latency ("1.23ms", "850.00us", "1.02s") -> microseconds
	awk -v v="$1" 'BEGIN {
		n = v + 0
		if (v ~ /us$/) print n; else if (v ~ /ms$/) print n * 1000;
		else if (v ~ /s$/) print n * 1000000; else print n }'
}

bytes() {	# wrk "12.34MB" -> bytes
	awk -v v="$1" 'BEGIN {
		n = v + 0
		if (v ~ /GB$/) n *= 1073741824; else if (v ~ /MB$/) n *= 1048576;
		else if (v ~ /KB$/) n *= 1024;
		printf "%.0f", n }'
}

counter() { awk -v k="$1" '$1 == k { print $2 }' /proc/net/paste; }

# Repetitions outermost and modes innermost: the modes of one point run
# back to back, so drift on a shared host affects them alike.
mark=0
for rep in $(seq $reps); do
for loop in $loops; do
for msg in $msgs; do
body=${msg%%:*} rest=${msg#*:}
total=${rest%%:*} reply=${rest#*:}
for c in $conns; do
for mode in $modes; do
	slot= zc= client= url=http://127.0.0.1:8080/
	m=${mode%@nic}
	[ "${m#*+}" != "$m" ] && slot="--slot-size ${m#*+}"
	if [ "$m" = paste-zc ]; then
		m=paste zc="--zero-copy $nic"
	fi
	if [ "$mode" != "${mode%@nic}" ] || [ -n "$zc" ]; then
		client="/sbin/ip netns exec client" url=http://10.78.0.1:8080/
	fi
	dir=/mnt/pmem/bench && rm -rf $dir && mkdir -p $dir
	taskset -c 0 /paste/bin/pasted -m ${m%%+*} -l $loop -p 8080 -d $dir -r 256 \
		--reply-bytes "$reply" $slot $zc > /tmp/pasted.log 2>&1 &
	pid=$!
	i=0
	until wget -q -O /dev/null http://127.0.0.1:8080/ready 2>/dev/null; do
		[ $i -ge 100 ] && break
		# a 404 also means it is up
		wget -S -O /dev/null http://127.0.0.1:8080/ready 2>&1 | grep -q 404 && break
		i=$((i + 1)); sleep 0.1
	done
	kbefore=$(counter PasteBytesCopied)
	[ $profile = insn ] && insnmark && mark=$((mark + 1))
	BODY=$body TOTAL=$total $client taskset -c 1 wrk -t1 -c$c -d${secs}s \
		--latency -s /paste/post.lua $url > /tmp/wrk.out 2>&1
	[ $profile = insn ] && insnmark && mark=$((mark + 1))
	kafter=$(counter PasteBytesCopied)
	kill -TERM $pid; wait $pid
	rps=$(awk '/^Requests\/sec/ { print $2 }' /tmp/wrk.out)
	avg=$(us "$(awk '$1 == "Latency" { print $2; exit }' /tmp/wrk.out)")
	p99=$(us "$(awk '$1 == "99%" { print $2 }' /tmp/wrk.out)")
	reqs=$(awk '/requests in/ { print $1 }' /tmp/wrk.out)
	read=$(bytes "$(awk '/requests in/ { print $(NF - 1) }' /tmp/wrk.out)")
	# CPU copies of request bytes: pasted's own, and the kernel's into
	# user memory (recv), into files (pwrite) or into the region (PASTE).
	ucopy=$(sed -n 's/.*payload bytes copied \([0-9]*\), head bytes gathered \([0-9]*\),.*/\1 \2/p' /tmp/pasted.log |
		awk '{ print $1 + $2 }')
	kcopy=$(sed -n 's/.*kernel copies: \([0-9]*\) received, \([0-9]*\) written.*/\1 \2/p' /tmp/pasted.log |
		awk -v p=$((kafter - kbefore)) '{ print $1 + $2 + p }')
	if [ $profile = insn ]; then
		echo "INSN,$mode,$loop,$body,$c,${reqs:-0},$((mark - 1)),$mark"
		continue
	fi
	echo "BENCH,$mode,$loop,$body,$total,$reply,$c,$rep,${rps:-0},${avg:-0},${p99:-0},$(awk -v u="${ucopy:-0}" -v r="${reqs:-0}" -v k="${kcopy:-0}" -v rd="$read" 'BEGIN { if (r > 0) printf "%.1f,%.1f,%.0f", u / r, k / r, rd / r; else print "0,0,0" }')"
done; done; done; done; done
echo "BENCH-DONE"
