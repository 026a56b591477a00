#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Guest side of the power-cut tests (paste.run=crash) and of the
# flush-ordering checker (paste.run=flushcheck).
#
#   crash-guest.sh serve MODE LOOP KFLUSH
#	serve pasted from the pmem image until the power is cut; every boot
#	after the first recovers what the previous one left. MODE paste-zc is
#	paste mode with eth0's receive queue bound to the region (zero copy);
#	paste-ckptfail is paste mode whose first checkpoints fail (CKPT_FAULTS)
#	MODE redis, redis-zc, redis-rw: Redis on PASTE (appendfsync paste, with
#	paste-zero-copy eth0, with rewrites slowed to seconds), from the Redis
#	initramfs; its log is small, so rewrites run under the load and cuts
#	land in them
#   crash-guest.sh trace SERVER KFLUSH CONNS MS ZC LOOP
#	run SERVER (pasted, or a seeded-bug build of it, or pasted-ckptfail:
#	pasted-marks with CKPT_FAULTS; or redis, redis-bugN: Redis on PASTE
#	and its seeded-bug build, with crashload speaking RESP) in paste mode on
#	event loop LOOP and crashload against it on loopback for 1 s;
#	SIGKILL it, start it again (it recovers) and run crashload for MS
#	ms, marking crash points.
#	ZC=1: crashload runs in namespace "client" and its requests cross
#	the hub NIC pair into the server's NIC, whose receive queue is
#	bound to the region (zero copy)
dir=/mnt/pmem/crash
mkdir -p $dir
# Each start's first four checkpoints fail (fsync EIO): once the log is
# full, writes are refused with 503 until the fifth, one a second.
CKPT_FAULTS=snapshot_fsync=1+4
kflush=
[ "$4" = 1 ] && [ "$1" = serve ] && kflush=--kernel-flush
[ "$3" = 1 ] && [ "$1" = trace ] && kflush=--kernel-flush

# redis_args: Redis on PASTE on port 8080 with a small log.
redis_args() {
	echo --port 8080 --dir $dir --protected-mode no --save "''" \
		--appendonly yes --appendfsync paste --paste-region $dir/region \
		--paste-region-size 16mb --paste-log-size 4mb --paste-wal-entries 1024 \
		--logfile $dir/log
}

# serve_redis ZC [ARGS]: Redis on PASTE until the power is cut. Rewrites
# starting and ending are said on the console, which the host keeps: the
# file system's last seconds (Redis's own log among them) may not survive.
serve_redis() {
	r=/paste/redis/bin
	echo "paste-crash: redis-server, appendfsync paste${1:+, zero copy on $1}, on $dir"
	if [ -n "$1" ]; then
		while sleep 0.2; do
			awk '$1 == "PasteBytesZeroCopy" && $2 > 0 {
				print "paste-crash: zero-copy bytes " $2 }' /proc/net/paste
		done &
	fi
	was=0
	while sleep 0.2; do
		now=$($r/redis-cli -p 8080 info persistence 2>/dev/null |
			sed -n 's/^aof_rewrite_in_progress:\([01]\).*/\1/p')
		[ -n "$now" ] && [ "$now" != $was ] || continue
		was=$now
		[ "$now" = 1 ] && echo "paste-crash: rewrite under way" ||
			echo "paste-crash: rewrite done"
	done &
	eval $r/redis-server $(redis_args) ${1:+--paste-zero-copy $1} ${2:-}
	echo "paste-crash: redis-server exited with status $?"
	tail -5 $dir/log | sed 's/^/paste-crash: redis: /'
}

case "$1" in
serve)
	mode=$2 zc= server=pasted
	case $mode in
	redis) serve_redis; exit ;;
	redis-zc) serve_redis eth0; exit ;;
	# Rewrites slowed to seconds (0.1 s a key in the child), so that cuts
	# land in them and the log fills while one runs.
	redis-rw) serve_redis "" "--rdb-key-save-delay 100000"; exit ;;
	esac
	if [ "$mode" = paste-ckptfail ]; then
		mode=paste server=pasted-marks
		export PASTED_FAULTS=$CKPT_FAULTS
	fi
	if [ "$mode" = paste-zc ]; then
		mode=paste zc="--zero-copy eth0"
		# The host checks that the device placed some payload.
		while sleep 0.2; do
			awk '$1 == "PasteBytesZeroCopy" && $2 > 0 {
				print "paste-crash: zero-copy bytes " $2 }' /proc/net/paste
		done &
	fi
	echo "paste-crash: $server --mode $mode $zc --loop $3 $kflush on $dir${PASTED_FAULTS:+, faults $PASTED_FAULTS}"
	$server --mode "$mode" $zc --loop "$3" $kflush --dir $dir --region 16 \
		--wal 1024 --port 8080
	echo "paste-crash: pasted exited with status $?"
	;;
trace)
	grep -i 'persistent memory' /proc/iomem | sed 's/^ */paste-crash: iomem /'
	server=$2 conns=$4 ms=$5 loop=${7:-epoll}
	if [ "$server" = pasted-ckptfail ]; then
		server=pasted-marks
		export PASTED_FAULTS=$CKPT_FAULTS
	fi
	zc= host=127.0.0.1 client= resp=
	if [ "$6" = 1 ]; then
		. /paste/nic-pair.sh
		nic_pair client || echo "paste-crash: no NIC pair"
		zc="--zero-copy $nic" host=10.78.0.1
		client="/sbin/ip netns exec client"
	fi
	case $server in redis*) resp=--resp ;; esac
	start_server() {
		case $server in
		redis*)	eval /paste/redis/bin/redis-server${server#redis} $(redis_args) \
				${zc:+--paste-zero-copy $nic} & ;;
		*)	"$server" --mode paste --loop "$loop" $kflush $zc --dir $dir \
				--region 16 --wal 1024 --port 8080 --quiet & ;;
		esac
		pid=$!
		$client crashload ready $resp --host $host --wait 120 ||
			echo "paste-crash: server did not come up"
	}
	load() {
		$client crashload load $resp --host $host --conns "$conns" --keys 6 \
			--pipeline 8 --hostile --state /tmp/crash.state "$@" ||
			echo "paste-crash: load failed"
	}
	echo "paste-crash: $server --mode paste --loop $loop $kflush $zc, crashload $conns connections, $ms ms${PASTED_FAULTS:+, faults $PASTED_FAULTS}"
	# Untraced first run, then SIGKILL: the traced run starts with a
	# recovery, and its crash points check that run's keys too.
	start_server
	load --run 0 --duration 1000
	kill -KILL $pid
	wait $pid
	sed 's/^/paste-crash: record /' /tmp/crash.state
	start_server
	# Past MS if need be, until the first image is written (the second
	# crash point): a slow or shared machine acknowledges less per second.
	load --run 1 --duration "$ms" --markers --min-points 2
	grep '^1 ' /tmp/crash.state | sed 's/^/paste-crash: final /'
	awk '$1 == "PasteBytesZeroCopy" { print "paste-crash: zero-copy bytes " $2 }' \
		/proc/net/paste
	kill -TERM $pid
	wait $pid
	echo "paste-crash: trace done"
	;;
esac
