#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Redis on PASTE in the VM (appendfsync paste), one behaviour per test, in
# KTAP, closed by "paste-vm: totals pass:N fail:N skip:N". The clients are
# Redis's own (redis-cli, redis-benchmark), unmodified.
# Usage: redis-guest.sh LEVEL   (check or full)
level=${1:-check}
bin=${REDIS_BIN:-/paste/redis/bin}
base=${REDIS_BASE:-/mnt/pmem/redis-test}
port=6379
pass=0 fail=0 n=0
export PATH=$bin:$PATH

counter() { awk -v k="$1" '$1 == k { print $2 }' /proc/net/paste; }
info() { redis-cli -p ${2:-$port} info persistence | tr -d '\r' | awk -F: -v k="$1" '$1 == k { print $2 }'; }
cli() { redis-cli -p $port "$@" | tr -d '\r'; }

# start DIR [CONFIG LINES...]: a paste-mode server on $port, DIR its home.
start() {
	dir=$1
	shift
	mkdir -p "$dir"
	{
		echo "port $port"
		echo "dir $dir"
		echo "appendonly yes"
		echo "appendfsync paste"
		echo "paste-region $dir/region"
		echo "paste-region-size 8mb"
		echo "paste-log-size 4mb"
		echo "paste-wal-entries 65536"
		echo "logfile $dir/log"
		echo "save \"\""
		[ -n "${REDIS_EXTRA:-}" ] && echo "$REDIS_EXTRA"
		for l in "$@"; do echo "$l"; done
	} > "$dir/redis.conf"
	redis-server "$dir/redis.conf" --daemonize yes > "$dir/start.out" 2>&1 || return 1
	for i in $(seq 100); do
		[ "$(cli ping 2>/dev/null)" = PONG ] && return 0
		sleep 0.1
	done
	return 1
}

stop() {	# stop [-9]: kill (a crash, with -9) and wait for the port
	pid=$(cli info server 2>/dev/null | awk -F: '$1 == "process_id" { print $2 }')
	[ -n "$pid" ] || return 0
	kill ${1:--TERM} "$pid"
	for i in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
}

# resp_sets N PREFIX SIZE: N RESP SETs of PREFIX:i to a SIZE-byte value
# ending in :i, for redis-cli --pipe.
resp_sets() {
	awk -v n="$1" -v p="$2" -v sz="$3" 'BEGIN {
		pad = sprintf("%" sz "s", ""); gsub(/ /, "x", pad)
		for (i = 1; i <= n; i++) {
			k = p ":" i; v = substr(pad, 1, sz - length(":" i)) ":" i
			printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n",
				length(k), k, length(v), v
		} }'
}

# pipe_sets N PREFIX SIZE: send them; succeed only if every one was answered
# without an error.
pipe_sets() {
	resp_sets "$@" | redis-cli -p $port --pipe > /tmp/pipe.out 2>&1
	grep -q "errors: 0, replies: $1" /tmp/pipe.out
}

tap() {	# tap NAME: run test_NAME, report it
	n=$((n + 1))
	stop -9
	rm -rf "$base" && mkdir -p "$base"
	msg=$( (test_$1) 2>&1)
	rc=$?
	[ -n "$msg" ] && echo "$msg" | sed 's/^/# /'
	if [ $rc = 0 ]; then
		echo "ok $n redis.$1"; pass=$((pass + 1))
	else
		echo "not ok $n redis.$1"; fail=$((fail + 1))
		[ -f "$base/log" ] && tail -5 "$base/log" | sed 's/^/#   log: /'
	fi
	stop -9
}

# A region file must be on DAX with MAP_SYNC: tmpfs is refused, clearly.
test_refuses_a_region_not_on_dax() {
	start "$base" "paste-region /tmp/region" && { echo "started on tmpfs"; return 1; }
	grep -q 'is not on a DAX filesystem' "$base/log" ||
		{ echo "expected the DAX refusal in the log"; return 1; }
}

# SETs sent over TCP are logged as references to the bytes the kernel
# placed: nothing of their payload is copied into the log.
test_sets_are_logged_as_references() {
	start "$base" || return 1
	pipe_sets 2000 ref 1024 || { cat /tmp/pipe.out; return 1; }
	refs=$(info paste_logged_ref_bytes) copied=$(info paste_logged_copied_bytes)
	echo "logged: $refs bytes as references, $copied copied"
	[ "$refs" -ge $((2000 * 1024)) ] || { echo "expected >= 2048000 bytes as references"; return 1; }
	[ "$copied" -lt 100 ] || { echo "expected only a SELECT copied, got $copied bytes"; return 1; }
}

# Every acknowledged write is there after a crash (kill -9), and nothing
# else: the values are whole.
test_acknowledged_writes_survive_a_crash() {
	start "$base" || return 1
	pipe_sets 1500 k 700 || { cat /tmp/pipe.out; return 1; }
	cli hset h f1 v1 f2 v2 > /dev/null && cli incrby ctr 41 > /dev/null &&
		cli incr ctr > /dev/null && cli del k:7 > /dev/null || return 1
	stop -KILL
	start "$base" || { echo "no restart"; return 1; }
	[ "$(cli dbsize)" = 1501 ] || { echo "expected 1501 keys, got $(cli dbsize)"; return 1; }
	[ "$(cli get ctr)" = 42 ] || { echo "expected ctr 42"; return 1; }
	[ "$(cli hget h f2)" = v2 ] || { echo "expected h.f2 v2"; return 1; }
	[ -z "$(cli get k:7)" ] || { echo "expected k:7 deleted"; return 1; }
	v=$(cli get k:1500)
	[ ${#v} = 700 ] && [ "${v%:1500}" != "$v" ] || { echo "k:1500 is not whole"; return 1; }
}

# A client that closes leaves its logged buffers pinned to the region: a
# later client in a small region cannot overwrite them, before or after a
# crash.
test_closed_clients_buffers_stay_pinned() {
	start "$base" "paste-region-size 1mb" || return 1
	pipe_sets 150 a 4000 || { cat /tmp/pipe.out; return 1; }
	pinned=$(info paste_pinned_buffers)
	echo "buffers pinned after the first client closed: $pinned"
	[ "$pinned" -ge 140 ] || { echo "expected its >= 140 logged buffers pinned"; return 1; }
	pipe_sets 200 b 4000 || { cat /tmp/pipe.out; return 1; }
	stop -KILL
	start "$base" "paste-region-size 1mb" || return 1
	[ "$(cli dbsize)" = 350 ] || { echo "expected 350 keys, got $(cli dbsize)"; return 1; }
	v=$(cli get a:1)
	[ ${#v} = 4000 ] && [ "${v%:1}" != "$v" ] || { echo "a:1 is not whole"; return 1; }
}

# A rewrite hands the buffers back to the kernel, and keeps every value.
test_rewrite_releases_buffers() {
	start "$base" || return 1
	pipe_sets 500 r 2000 || return 1
	held=$(( $(info paste_held_buffers) + $(info paste_pinned_buffers) ))
	[ "$held" -gt 0 ] || { echo "expected buffers kept for the log"; return 1; }
	cli bgrewriteaof > /dev/null
	for i in $(seq 100); do
		[ "$(info aof_rewrite_in_progress)" = 0 ] && break
		sleep 0.1
	done
	left=$(( $(info paste_held_buffers) + $(info paste_pinned_buffers) ))
	echo "kept for the log: $held buffers before the rewrite, $left after"
	[ "$left" = 0 ] || { echo "expected 0 after the rewrite"; return 1; }
	stop -KILL
	start "$base" || return 1
	[ "$(cli dbsize)" = 500 ] || { echo "expected 500 keys after restart"; return 1; }
}

# A log too small for the load: writes wait for rewrites, none fails and
# none is lost.
test_full_log_makes_writes_wait() {
	start "$base" "paste-region-size 1mb" "paste-log-size 64kb" \
		"paste-wal-entries 1024" || return 1
	pipe_sets 3000 w 1024 || { cat /tmp/pipe.out; echo "expected 3000 answers, no error"; return 1; }
	rw=$(info aof_rewrites)
	echo "rewrites: $rw, writes that waited: $(info paste_write_waits), copied reads: $(info paste_copy_reads)"
	[ "$rw" -ge 1 ] || { echo "expected rewrites"; return 1; }
	stop -KILL
	start "$base" "paste-region-size 1mb" "paste-log-size 64kb" \
		"paste-wal-entries 1024" || return 1
	[ "$(cli dbsize)" = 3000 ] || { echo "expected 3000 keys, got $(cli dbsize)"; return 1; }
}

# A value larger than one log record takes (64 pieces of one buffer each)
# spans several records, and comes back whole after a crash.
test_large_value_spans_records() {
	start "$base" || return 1
	head -c 600000 /dev/urandom | base64 | tr -d '\n' | head -c 700000 > /tmp/big
	r0=$(info paste_records)
	redis-cli -p $port -x set big < /tmp/big > /dev/null || return 1
	cli set after-big 1 > /dev/null
	records=$(($(info paste_records) - r0 - 1))
	echo "a 700000-byte SET took $records log records"
	[ "$records" -ge 2 ] || { echo "expected more than one record"; return 1; }
	stop -KILL
	start "$base" || return 1
	[ "$(cli strlen big)" = 700000 ] || { echo "expected 700000 bytes, got $(cli strlen big)"; return 1; }
	[ "$(cli getrange big 0 99)" = "$(head -c 100 /tmp/big)" ] &&
		[ "$(cli getrange big -100 -1)" = "$(tail -c 100 /tmp/big)" ] ||
		{ echo "the value's ends differ"; return 1; }
	[ "$(cli get after-big)" = 1 ] || { echo "expected the write after it"; return 1; }
}

# A crash in the middle of a command's records (its last entry lost): the
# command is dropped whole, what came before stays, and the log goes on
# from there across a second crash.
test_torn_command_is_dropped() {
	start "$base" || return 1
	cli set a 1 > /dev/null
	head -c 600000 /dev/urandom | base64 | tr -d '\n' | head -c 700000 > /tmp/big
	redis-cli -p $port -x set big < /tmp/big > /dev/null || return 1
	entries=$(info paste_log_entries)
	stop -KILL
	# The last entry (libpaste's WAL: a 4096-byte header, then 8-byte
	# entries): the end of the big SET's last record.
	part=$(ls "$base"/appendonlydir/*.incr.paste | tail -1)
	at=$((4096 + (entries - 1) * 8))
	word() { od -A n -t x8 -j "$at" -N 8 "$part" | tr -d ' '; }
	before=$(word)
	dd if=/dev/zero of="$part" bs=8 seek=$((at / 8)) count=1 conv=notrunc 2> /dev/null
	echo "entry $((entries - 1)) of $(basename "$part"): $before, now $(word)"
	[ "$before" != 0000000000000000 ] && [ "$(word)" = 0000000000000000 ] ||
		{ echo "expected a non-zero entry zeroed"; return 1; }
	start "$base" || return 1
	grep 'PASTE:.*dropped' "$base/log" | sed 's/^[^#]*# //'
	grep -q 'incomplete command' "$base/log" || { echo "expected the drop in the log"; return 1; }
	[ "$(cli strlen big)" = 0 ] || { echo "expected the torn SET dropped"; return 1; }
	[ "$(cli get a)" = 1 ] || { echo "expected a = 1"; return 1; }
	cli set b 2 > /dev/null
	stop -KILL
	start "$base" || return 1
	[ "$(cli get b)" = 2 ] && [ "$(cli get a)" = 1 ] && [ "$(cli strlen big)" = 0 ] ||
		{ echo "expected a = 1, b = 2, no big after the second crash"; return 1; }
}

# paste cannot be switched on or off at run time; the error says why.
test_no_switch_at_run_time() {
	start "$base" || return 1
	cli config set appendfsync always | grep -q 'start-up' ||
		{ echo "expected a refusal of appendfsync always"; return 1; }
	cli config set appendonly no | grep -q 'run time' ||
		{ echo "expected a refusal of appendonly no"; return 1; }
	[ "$(cli config get appendfsync | tail -1)" = paste ] || return 1
}

# A unix-socket client has no region: its commands are copied into the log
# area, and survive a crash too.
test_unix_socket_takes_the_copy_path() {
	start "$base" "unixsocket $base/sock" || return 1
	redis-cli -s "$base/sock" set u1 over-unix > /dev/null || return 1
	copied=$(info paste_logged_copied_bytes)
	[ "$copied" -gt 20 ] || { echo "expected the SET copied, got $copied bytes"; return 1; }
	stop -KILL
	start "$base" "unixsocket $base/sock" || return 1
	[ "$(cli get u1)" = over-unix ] || { echo "expected u1 after restart"; return 1; }
}

# TLS clients take the copy path (the TLS connection type reads through
# OpenSSL, not recvmsg(MSG_PASTE)) and their writes are as durable.
test_tls_takes_the_copy_path() {
	tls=${REDIS_TLS:-/paste/redis/tls}
	[ -f $tls/cert.pem ] || { echo "no test certificate in the initramfs"; return 1; }
	conf="tls-port 6390
		tls-cert-file $tls/cert.pem
		tls-key-file $tls/key.pem
		tls-ca-cert-file $tls/cert.pem
		tls-auth-clients no"
	start "$base" "$conf" || return 1
	refs0=$(info paste_logged_ref_bytes) copied0=$(info paste_logged_copied_bytes)
	redis-cli --tls --cacert $tls/cert.pem -p 6390 set t1 over-tls | grep -q OK ||
		{ echo "the TLS SET failed"; return 1; }
	[ "$(info paste_logged_ref_bytes)" = "$refs0" ] ||
		{ echo "expected no reference for a TLS client"; return 1; }
	[ "$(info paste_logged_copied_bytes)" -gt $((copied0 + 20)) ] ||
		{ echo "expected the TLS SET copied into the log area"; return 1; }
	stop -KILL
	start "$base" "$conf" || return 1
	[ "$(cli get t1)" = over-tls ] || { echo "expected t1 after kill -9"; return 1; }
}

# I/O threads that read (io-threads-do-reads) take the copy path; every
# acknowledged write is still back after kill -9.
test_io_threads_keep_writes_durable() {
	conf="io-threads 2
		io-threads-do-reads yes"
	start "$base" "$conf" || return 1
	redis-benchmark -p $port -q -t set -n 3000 -r 1000000 -d 100 -c 20 -P 4 \
		--threads 2 > /tmp/bench.out 2>&1 || { cat /tmp/bench.out; return 1; }
	keys=$(cli dbsize)
	stop -KILL
	start "$base" "$conf" || return 1
	[ "$(cli dbsize)" = "$keys" ] || { echo "expected $keys keys after kill -9, got $(cli dbsize)"; return 1; }
	echo "$keys keys written through 2 I/O threads, all back"
}

# A replica of a paste-mode primary gets its writes (the master link takes
# the copy path).
test_replica_of_a_paste_primary() {
	start "$base" || return 1
	mkdir -p "$base/replica"
	redis-server --port 6380 --dir "$base/replica" --replicaof 127.0.0.1 $port \
		--daemonize yes --logfile "$base/replica/log" --save "" || return 1
	pipe_sets 200 rep 512 || return 1
	for i in $(seq 100); do
		[ "$(redis-cli -p 6380 dbsize | tr -d '\r')" = 200 ] && break
		sleep 0.1
	done
	got=$(redis-cli -p 6380 dbsize | tr -d '\r')
	redis-cli -p 6380 shutdown nosave > /dev/null 2>&1
	[ "$got" = 200 ] || { echo "expected 200 keys on the replica, got $got"; return 1; }
}

# DEBUG LOADAOF replays the open log part; DEBUG RELOAD keeps the log.
test_debug_loadaof_and_reload() {
	start "$base" "enable-debug-command local" || return 1
	pipe_sets 300 d 300 || return 1
	cli debug loadaof | grep -q OK || { echo "DEBUG LOADAOF failed"; return 1; }
	[ "$(cli dbsize)" = 300 ] || { echo "expected 300 keys after LOADAOF"; return 1; }
	cli debug reload | grep -q OK || return 1
	cli set after-reload 1 > /dev/null
	stop -KILL
	start "$base" "enable-debug-command local" || return 1
	[ "$(cli dbsize)" = 301 ] || { echo "expected 301 keys after restart"; return 1; }
}

# redis-check-aof --fix on a paste-mode AOF: the "p" part refers into the
# region, which it cannot read; it must say so and leave the part alone
# (before, it called the part a format error and --fix emptied it).
test_check_aof_leaves_the_log_alone() {
	start "$base" || return 1
	pipe_sets 200 c 100 || return 1
	stop -KILL
	part=$(ls "$base"/appendonlydir/*.incr.paste) || return 1
	sum=$(md5sum < "$part")
	ln -sf "$(command -v redis-server)" /tmp/redis-check-aof
	echo y | /tmp/redis-check-aof --fix "$base"/appendonlydir/appendonly.aof.manifest \
		> /tmp/check.out 2>&1
	grep -q 'holds PASTE references: not checked' /tmp/check.out ||
		{ cat /tmp/check.out; echo "expected the p part named as not checked"; return 1; }
	[ "$(md5sum < "$part")" = "$sum" ] || { echo "redis-check-aof --fix changed the log"; return 1; }
	start "$base" || return 1
	[ "$(cli dbsize)" = 200 ] || { echo "expected 200 keys after the check"; return 1; }
}

# A second server on the same region file (two servers sharing a directory)
# would replay and append the same log: it is refused, the owner unharmed.
test_second_server_on_the_region_is_refused() {
	start "$base" || return 1
	pipe_sets 50 o 100 || return 1
	mkdir -p "$base/second"
	redis-server --port $((port + 1)) --dir "$base/second" --appendonly yes \
		--appendfsync paste --paste-region "$base/region" \
		--paste-region-size 8mb --paste-log-size 4mb --paste-wal-entries 65536 \
		${REDIS_EXTRA:+--$REDIS_EXTRA} > "$base/second/out" 2>&1 &
	second=$!
	for i in $(seq 50); do kill -0 $second 2>/dev/null || break; sleep 0.1; done
	kill -0 $second 2>/dev/null && { kill -9 $second; echo "the second server runs"; return 1; }
	grep -q 'is the region of another process' "$base/second/out" ||
		{ tail -3 "$base/second/out"; echo "expected the region refused as another's"; return 1; }
	[ "$(cli dbsize)" = 50 ] && [ "$(cli set after 1)" = OK ] ||
		{ echo "the owner stopped serving"; return 1; }
}

# paste-zero-copy: the NIC's queue writes frames straight into the region;
# SETs from another namespace across the NIC pair are logged as references
# to those bytes, and the kernel copies none of them.
test_zero_copy_copies_nothing() {
	. /paste/nic-pair.sh
	nic_pair client || { echo "no NIC pair"; return 1; }
	start "$base" "paste-zero-copy $nic" "protected-mode no" || return 1
	copied0=$(counter PasteBytesCopied) zc0=$(counter PasteBytesZeroCopy)
	/sbin/ip netns exec client redis-benchmark -h 10.78.0.1 -p $port -q \
		-t set -n 2000 -d 1024 -c 4 -P 8 > /tmp/bench.out 2>&1 ||
		{ cat /tmp/bench.out; return 1; }
	copied=$(($(counter PasteBytesCopied) - copied0))
	zc=$(($(counter PasteBytesZeroCopy) - zc0))
	refs=$(info paste_logged_ref_bytes)
	echo "2000 SETs of 1 KiB across $nic: $zc bytes placed by the NIC, $copied copied by the kernel, $refs logged as references"
	[ "$zc" -ge $((2000 * 1024)) ] || { echo "expected >= 2048000 bytes placed in place"; return 1; }
	[ "$copied" = 0 ] || { echo "expected no byte copied"; return 1; }
	[ "$refs" -ge $((2000 * 1024)) ] || { echo "expected the SETs logged as references"; return 1; }
}

# Redis's own tests in paste mode (aof-suite.sh; aof-suite.exclude says
# which are left out and why). REDIS_SUITE_ARGS adds runtest options.
suite() { "$(dirname "$0")/aof-suite.sh" "$1" "$base/suite" ${REDIS_SUITE_ARGS:-}; }
test_suite_aof() { suite integration/aof; }
test_suite_aof_multi_part() { suite integration/aof-multi-part; }
test_suite_other() { suite unit/other; }
test_suite_rdb() { suite integration/rdb; }

echo "TAP version 13"
tests=${REDIS_TESTS:-}
[ -n "$tests" ] || tests="refuses_a_region_not_on_dax sets_are_logged_as_references
	acknowledged_writes_survive_a_crash closed_clients_buffers_stay_pinned
	rewrite_releases_buffers
	full_log_makes_writes_wait large_value_spans_records torn_command_is_dropped
	no_switch_at_run_time
	unix_socket_takes_the_copy_path tls_takes_the_copy_path
	io_threads_keep_writes_durable replica_of_a_paste_primary
	debug_loadaof_and_reload check_aof_leaves_the_log_alone suite_aof
	second_server_on_the_region_is_refused zero_copy_copies_nothing"
[ -n "${REDIS_TESTS:-}" ] || [ "$level" != full ] ||
	tests="$tests suite_aof_multi_part suite_other suite_rdb"
echo "1..$(echo $tests | wc -w)"
for t in $tests; do
	tap $t
done
echo "paste-vm: totals pass:$pass fail:$fail skip:0"
