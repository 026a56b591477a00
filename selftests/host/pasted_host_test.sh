#!/bin/sh
# SPDX-License-Identifier: MIT
#
# pasted on the host's own (unpatched) kernel: the modes that need no PASTE
# serve POST and GET and recover after a restart, on tmpfs with
# --allow-nosync; paste mode refuses to start with a clear message, and so
# does every mode whose files another mode or region size left.
# Usage: pasted_host_test.sh PASTED
pasted=$1
dir=$(mktemp -d /dev/shm/pasted-host-XXXXXX)
port=$((20000 + $$ % 20000))
fail=0 n=0
trap 'rm -rf "$dir"' EXIT

check() {
	n=$((n + 1))
	if [ "$2" = "$3" ]; then
		echo "ok $n $1"
	else
		echo "not ok $n $1: expected '$2', got '$3'"
		sed 's/^/#   pasted: /' "$dir/log"
		fail=$((fail + 1))
	fi
}

# A port can be taken: by another program, or by the previous server's
# listener, which an io_uring instance closes only after the process exits.
# Move to the next port while the port is busy; $port is the one that served.
# Each start may take 20 s (ASan, while make check builds a kernel).
# start MODE LOOP [MIB]
start() {
	for i in $(seq 50); do
		"$pasted" -m "$1" -l "$2" -p $port -d "$dir" -r "${3:-8}" --allow-nosync \
			> "$dir/log" 2>&1 &
		pid=$!
		for j in $(seq 200); do
			# Listening (it says so), and not another program answering.
			grep -q '^pasted: mode' "$dir/log" &&
				curl -s -o /dev/null "http://127.0.0.1:$port/" && return 0
			kill -0 $pid 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 $pid 2>/dev/null; then
			echo "# pasted -m $1 -l $2: no start line and HTTP answer on port $port within 20 s"
			kill -KILL $pid
		fi
		wait $pid
		grep -q 'Address already in use' "$dir/log" || return 1
		port=$((port + 2))
	done
	return 1
}

for mode in none fsync fdatasync memcpy readmmap; do
	for loop in epoll uring; do
		rm -rf "${dir:?}"/pasted.*
		start $mode $loop
		code=$(curl -s -o /dev/null -w '%{http_code}' --data-binary "v-$mode" \
			"http://127.0.0.1:$port/key")
		check "$mode/$loop POST" 201 "$code"
		check "$mode/$loop GET" "v-$mode" "$(curl -s "http://127.0.0.1:$port/key")"
		kill -TERM $pid; wait $pid
		check "$mode/$loop clean exit" 0 $?
		start $mode $loop
		want="v-$mode"
		[ $mode = none ] && want="not found"
		check "$mode/$loop recovered" "$want" "$(curl -s "http://127.0.0.1:$port/key")"
		kill -TERM $pid; wait $pid
	done
done

# fdatasync's log is preallocated and overwritten in place: its size never
# changes, so fdatasync() has no file size or allocation to commit.
rm -rf "${dir:?}"/pasted.*
start fdatasync epoll 8
check "fdatasync -r 8: the log is preallocated" 8388608 "$(stat -c %s "$dir/pasted.log")"
for i in $(seq 20); do
	curl -s -o /dev/null --data-binary "v$i" "http://127.0.0.1:$port/k$((i % 3))"
done
check "fdatasync: 20 POSTs later, still the same size" 8388608 \
	"$(stat -c %s "$dir/pasted.log")"
check "fdatasync: the last value" v20 "$(curl -s "http://127.0.0.1:$port/k2")"
kill -KILL $pid; wait $pid 2>/dev/null
# A torn last record: one byte of its value changed. Recovery must stop
# before it (k2 as the record before left it), not serve torn bytes.
off=$(grep -abo 'v20' "$dir/pasted.log" | tail -1 | cut -d: -f1)
printf 'X' | dd of="$dir/pasted.log" bs=1 seek=$((off + 1)) conv=notrunc 2>/dev/null
start fdatasync epoll 8
check "fdatasync: a torn record is not replayed" v17 "$(curl -s "http://127.0.0.1:$port/k2")"
check "fdatasync: the records before it are" v19 "$(curl -s "http://127.0.0.1:$port/k1")"
# Recovery checkpointed: the old records no longer check. A new value of
# k2 must survive a restart, whatever old bytes lie after it.
curl -s -o /dev/null --data-binary n "http://127.0.0.1:$port/k2"
kill -KILL $pid; wait $pid 2>/dev/null
start fdatasync epoll 8
check "fdatasync: after a second crash, the newest value" n \
	"$(curl -s "http://127.0.0.1:$port/k2")"
check "fdatasync: and the older ones" v19 "$(curl -s "http://127.0.0.1:$port/k1")"
kill -TERM $pid; wait $pid

# refuses WHAT MODE MIB: pasted must exit 1 at once, saying why, and serve
# nothing (within 10 s; 124 means it was still running).
refuses() {
	timeout 10 "$pasted" -m "$2" -p $((port + 1)) -d "$dir" -r "$3" \
		--allow-nosync > "$dir/log" 2>&1
	check "$1 exits 1" 1 $?
	check "$1 says why" 1 "$(grep -c 'refusing to start' "$dir/log")"
}

# The files of one mode and region size are never taken over by another.
rm -rf "${dir:?}"/pasted.*
start memcpy epoll 8
code=$(curl -s -o /dev/null -w '%{http_code}' --data-binary kept \
	"http://127.0.0.1:$port/kept")
check "memcpy -r 8: POST" 201 "$code"
kill -TERM $pid; wait $pid
for to in "memcpy 16" "readmmap 4" "none 8" "fsync 8" "fdatasync 8" "paste 8"; do
	refuses "memcpy -r 8, then $to:" $to
done
start memcpy epoll 8
check "memcpy -r 8: the value is still there" kept \
	"$(curl -s "http://127.0.0.1:$port/kept")"
kill -TERM $pid; wait $pid
# memcpy and readmmap share their files.
start readmmap epoll 8
check "readmmap -r 8 serves what memcpy logged" kept \
	"$(curl -s "http://127.0.0.1:$port/kept")"
kill -TERM $pid; wait $pid

rm -rf "${dir:?}"/pasted.*
start fsync epoll 8
code=$(curl -s -o /dev/null -w '%{http_code}' --data-binary kept \
	"http://127.0.0.1:$port/kept")
check "fsync: POST" 201 "$code"
kill -TERM $pid; wait $pid
for to in "none 8" "memcpy 8" "readmmap 8" "paste 8"; do
	refuses "fsync, then $to:" $to
done
start fdatasync epoll 8
check "fdatasync serves what fsync logged" kept \
	"$(curl -s "http://127.0.0.1:$port/kept")"
kill -TERM $pid; wait $pid

# Paste mode cannot run here, but creates its region and WAL first.
rm -rf "${dir:?}"/pasted.*
timeout 10 "$pasted" -m paste -p $((port + 1)) -d "$dir" -r 8 --allow-nosync \
	> "$dir/log" 2>&1
check "paste -r 8 leaves a region and a WAL" 2 \
	"$(ls "$dir"/pasted.region "$dir"/pasted.wal 2>/dev/null | wc -l)"
for to in "paste 16" "none 8" "fsync 8" "memcpy 8" "readmmap 8"; do
	refuses "paste -r 8, then $to:" $to
done

rm -rf "${dir:?}"/pasted.*
"$pasted" -m paste -p $((port + 1)) -d "$dir" -r 8 --allow-nosync > "$dir/log" 2>&1
check "paste mode on a kernel without PASTE exits 1" 1 $?
check "and says why" 1 "$(grep -c 'this kernel has no PASTE' "$dir/log")"
# A log of zeroes, as a crash left it between creating the file and
# writing its header (before logs were created under another name and
# renamed), held nothing: it is created anew, not refused for ever.
rm -rf "${dir:?}"/pasted.*
head -c 8388608 /dev/zero > "$dir/pasted.log"
start fsync epoll 8
check "fsync: a log of zeroes is created anew" 0 $?
code=$(curl -s -o /dev/null -w '%{http_code}' --data-binary z \
	"http://127.0.0.1:$port/z")
check "fsync: and takes a POST" 201 "$code"
kill -TERM $pid; wait $pid

# A device writes zero-copy payloads without the kernel writing them back:
# with --kernel-flush they would be acknowledged before they are durable.
"$pasted" -m paste --kernel-flush --zero-copy lo -d "$dir" --allow-nosync \
	> "$dir/log" 2>&1
check "--kernel-flush with --zero-copy is refused" 2 $?
check "and says why" 1 "$(grep -c 'kernel-flush.*zero-copy.*durable' "$dir/log")"
echo "# Totals: pass:$((n - fail)) fail:$fail"
[ $fail = 0 ]
