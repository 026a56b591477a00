#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Guest side of "make bench": pasted on vCPU 0, wrk on vCPU 1 over loopback
# (the client never shares a core with the server, and the emulator's NIC
# is not in the path). One line per measurement:
#   BENCH,mode,loop,body,conns,rep,req_per_s,lat_avg_us,lat_p99_us,
#         user_copied_per_req,kernel_copied_per_req
# Parameters come from the kernel command line: paste.bench=quick|full.
profile=quick
for a in $(cat /proc/cmdline); do
	case "$a" in paste.bench=*) profile=${a#*=} ;; esac
done
if [ "$profile" = full ]; then
	modes="none fsync fdatasync memcpy readmmap paste"
	loops="epoll uring" bodies="1003 1024" conns="1 5 10 50 100" reps=3 secs=5
else
	modes="none fsync fdatasync memcpy readmmap paste"
	loops="epoll uring" bodies="1024" conns="1 10 50" reps=1 secs=3
fi
echo "BENCH-INFO profile=$profile secs=$secs reps=$reps cpus=$(nproc)"

us() {	# wrk latency ("1.23ms", "850.00us", "1.02s") -> microseconds
	awk -v v="$1" 'BEGIN {
		n = v + 0
		if (v ~ /us$/) print n; else if (v ~ /ms$/) print n * 1000;
		else if (v ~ /s$/) print n * 1000000; else print n }'
}

counter() { awk -v k="$1" '$1 == k { print $2 }' /proc/net/paste; }

for mode in $modes; do
for loop in $loops; do
for body in $bodies; do
for c in $conns; do
for rep in $(seq $reps); do
	dir=/mnt/pmem/bench && rm -rf $dir && mkdir -p $dir
	taskset -c 0 /paste/bin/pasted -m $mode -l $loop -p 8080 -d $dir -r 256 \
		> /tmp/pasted.log 2>&1 &
	pid=$!
	i=0
	until wget -q -O /dev/null http://127.0.0.1:8080/ready 2>/dev/null; do
		[ $i -ge 100 ] && break
		# a 404 also means it is up
		wget -S -O /dev/null http://127.0.0.1:8080/ready 2>&1 | grep -q 404 && break
		i=$((i + 1)); sleep 0.1
	done
	kbefore=$(counter PasteBytesCopied)
	BODY=$body taskset -c 1 wrk -t1 -c$c -d${secs}s --latency \
		-s /paste/post.lua http://127.0.0.1:8080/ > /tmp/wrk.out 2>&1
	kafter=$(counter PasteBytesCopied)
	kill -TERM $pid; wait $pid
	rps=$(awk '/^Requests\/sec/ { print $2 }' /tmp/wrk.out)
	avg=$(us "$(awk '$1 == "Latency" { print $2; exit }' /tmp/wrk.out)")
	p99=$(us "$(awk '$1 == "99%" { print $2 }' /tmp/wrk.out)")
	reqs=$(awk '/requests in/ { print $1 }' /tmp/wrk.out)
	ucopy=$(sed -n 's/.*payload bytes copied \([0-9]*\),.*/\1/p' /tmp/pasted.log)
	echo "BENCH,$mode,$loop,$body,$c,$rep,${rps:-0},${avg:-0},${p99:-0},$(awk -v u="${ucopy:-0}" -v r="${reqs:-0}" -v b="$kbefore" -v a="$kafter" 'BEGIN { if (r > 0) printf "%.1f,%.1f", u / r, (a - b) / r; else print "0,0" }')"
done; done; done; done; done
echo "BENCH-DONE"
