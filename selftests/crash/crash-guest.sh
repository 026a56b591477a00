#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Guest side of the power-cut tests (paste.run=crash) and of the
# flush-ordering checker (paste.run=flushcheck).
#
#   crash-guest.sh serve MODE LOOP KFLUSH
#	serve pasted from the pmem image until the power is cut; every boot
#	after the first recovers what the previous one left. MODE paste-zc is
#	paste mode with eth0's receive queue bound to the region (zero copy)
#   crash-guest.sh trace SERVER KFLUSH CONNS MS
#	run SERVER (pasted, or a seeded-bug build of it) in paste mode and
#	crashload against it on loopback for MS ms, marking crash points
dir=/mnt/pmem/crash
mkdir -p $dir
kflush=
[ "$4" = 1 ] && [ "$1" = serve ] && kflush=--kernel-flush
[ "$3" = 1 ] && [ "$1" = trace ] && kflush=--kernel-flush

case "$1" in
serve)
	mode=$2 zc=
	if [ "$mode" = paste-zc ]; then
		mode=paste zc="--zero-copy eth0"
		# The host checks that the device placed some payload.
		while sleep 0.2; do
			awk '$1 == "PasteBytesZeroCopy" && $2 > 0 {
				print "paste-crash: zero-copy bytes " $2 }' /proc/net/paste
		done &
	fi
	echo "paste-crash: pasted --mode $mode $zc --loop $3 $kflush on $dir"
	pasted --mode "$mode" $zc --loop "$3" $kflush --dir $dir --region 16 \
		--port 8080
	echo "paste-crash: pasted exited with status $?"
	;;
trace)
	grep -i 'persistent memory' /proc/iomem | sed 's/^ */paste-crash: iomem /'
	echo "paste-crash: $2 --mode paste $kflush, crashload $4 connections, $5 ms"
	"$2" --mode paste $kflush --dir $dir --region 16 --port 8080 --quiet &
	pid=$!
	crashload ready --wait 120 || echo "paste-crash: server did not come up"
	crashload load --conns "$4" --duration "$5" --markers --run 0 \
		--state /tmp/crash.state || echo "paste-crash: load failed"
	kill -TERM $pid
	wait $pid
	echo "paste-crash: trace done"
	;;
esac
