#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make run-redis, guest side: Redis on PASTE (appendfsync paste, zero copy
# on the server's NIC) under redis-benchmark from another namespace across
# the NIC pair; its counters; then a crash (kill -9) and the recovery.
bin=/paste/redis/bin
dir=/mnt/pmem/redis-demo
export PATH=$bin:$PATH
say() { echo "paste-redis: $*"; }
counter() { awk -v k="$1" '$1 == k { print $2 }' /proc/net/paste; }
cli() { redis-cli "$@" | tr -d '\r'; }

. /paste/nic-pair.sh
nic_pair client || { say "no NIC pair"; exit 1; }
rm -rf $dir && mkdir -p $dir
conf="--dir $dir --save '' --protected-mode no --appendonly yes --appendfsync paste
	--paste-region $dir/region --paste-region-size 128mb --paste-log-size 16mb
	--paste-zero-copy $nic --logfile $dir/log --daemonize yes"
start() {
	eval redis-server $conf
	for i in $(seq 100); do [ "$(cli ping 2>/dev/null)" = PONG ] && return; sleep 0.1; done
}
say "kernel $(uname -r); Redis $(redis-server --version | awk '{ print $3 }'); $dir on $(grep ' /mnt/pmem ' /proc/mounts | cut -d' ' -f1,3,4)"
start
grep 'PASTE' $dir/log | sed 's/^[0-9]*:[A-Z] [^*#]*[*#] /paste-redis: log: /'
zc0=$(counter PasteBytesZeroCopy) cp0=$(counter PasteBytesCopied)
for point in "1 1 2000" "50 16 30000"; do
	set -- $point
	say "redis-benchmark -t set,get -d 1024 -c $1 -P $2 -n $3, from namespace client to 10.78.0.1"
	/sbin/ip netns exec client redis-benchmark -h 10.78.0.1 -q -t set,get -d 1024 \
		-r 100000 -c $1 -P $2 -n $3 > /tmp/rb.out 2>&1
	tr '\r' '\n' < /tmp/rb.out | grep 'requests per second' | sed 's/^ */paste-redis:   /' ||
		tail -3 /tmp/rb.out | sed 's/^/paste-redis:   redis-benchmark: /'
done
say "the NIC placed $(($(counter PasteBytesZeroCopy) - zc0)) bytes in the region; the kernel copied $(($(counter PasteBytesCopied) - cp0))"
cli info persistence | grep -E '^paste_(logged|records|commits|held|pinned|released|log_entries|log_area_used)' |
	sed 's/^/paste-redis:   /'
keys=$(cli dbsize)
say "kill -9 with $keys keys; restart"
kill -9 "$(cli info server | awk -F: '$1 == "process_id" { print $2 }')"
sleep 0.5
start
say "recovered $(cli dbsize) keys ($(grep -c 'rewriting started' $dir/log) rewrites ran)"
cli shutdown > /dev/null 2>&1
