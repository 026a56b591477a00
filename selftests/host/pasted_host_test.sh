#!/bin/sh
# SPDX-License-Identifier: MIT
#
# pasted on the host's own (unpatched) kernel: the modes that need no PASTE
# serve POST and GET and recover after a restart, on tmpfs with
# --allow-nosync; paste mode refuses to start with a clear message.
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
		fail=1
	fi
}

# An io_uring instance closes its files after the process exits, so the
# previous server's listener can linger briefly: retry while the port is busy.
start() {
	for i in $(seq 100); do
		"$pasted" -m "$1" -l "$2" -p $port -d "$dir" -r 8 --allow-nosync \
			> "$dir/log" 2>&1 &
		pid=$!
		for j in $(seq 50); do
			curl -s -o /dev/null "http://127.0.0.1:$port/" && return 0
			kill -0 $pid 2>/dev/null || break
			sleep 0.1
		done
		wait $pid
		grep -q 'Address already in use' "$dir/log" || return 1
		sleep 0.1
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

"$pasted" -m paste -p $((port + 1)) -d "$dir" -r 8 --allow-nosync > "$dir/log" 2>&1
check "paste mode on a kernel without PASTE exits 1" 1 $?
check "and says why" 1 "$(grep -c 'this kernel has no PASTE' "$dir/log")"
echo "# Totals: pass:$((n - fail)) fail:$fail"
exit $fail
