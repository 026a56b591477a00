#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Power cuts under load. For every persisting mode of pasted, on a pmem
# image of its own: boot, let crashload POST checksummed, versioned values
# from the host through QEMU's port forward (pipelined, cut into odd
# segments, with stray CRLFs and closes inside and after requests; keys
# overwritten, or a new key per request), SIGKILL QEMU at a random moment,
# boot again on the same image, and check that the keys hold what the
# acknowledged requests (and a prefix of the unanswered ones) left: no
# acknowledged write lost or rolled back, nothing torn or never sent.
# pasted's WAL is small, so checkpoints run under the load and cuts land
# in them. Cuts alternate between the epoll and the io_uring loop, and
# so does the first one from mode to mode; the load after each recovery is
# cut again. paste-ckptfail is paste mode whose first four checkpoints of
# each boot fail: the log fills, writes are refused with 503 (crashload
# checks that none of them is applied), and the cut lands before or after
# the checkpoint that succeeds. redis and redis-zc serve Redis on PASTE
# (appendfsync paste, without and with zero copy) from the Redis initramfs,
# and crashload speaks RESP (SET, HSET, INCR and DEL; GET and HGET) with
# the same hostility; Redis's log is small, so rewrites run under the load.
# redis-rw slows each rewrite to seconds: it is cut at least twice, first
# while the load runs (and must be, once at least, during a rewrite), then
# soon after each recovery.
#
# Usage: run-crashtest.sh BUILD FLAVOUR CUTS [MODE...]
# Environment: SEED (default: random, printed), CRASH_CONNS (8).
set -u
build=$1 flavour=$2 cuts=$3
shift 3
modes=${*:-fsync fdatasync memcpy readmmap paste paste-zc paste-ckptfail redis redis-zc}
here=$(cd "$(dirname "$0")" && pwd)
vm=$here/../vm
. "$vm/splat.sh"
. "$here/serve-vm.sh"
kernel=$build/obj-$flavour/arch/x86/boot/bzImage
load=$build/crash/crashload
out=$build/crash
logs=$build/logs
mkdir -p "$out" "$logs"
# pasted serves a 16 MiB region: a small NVDIMM is formatted sooner.
export PMEM_SIZE=128M

seed=${SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
echo "# crashtest: $cuts power cuts per mode ($modes) on the $flavour kernel, SEED=$seed"
rng=$seed
# next_rand N: a number in [0, N) from a 32-bit LCG seeded by SEED.
next_rand() {
	rng=$(( (rng * 1103515245 + 12345) % 2147483648 ))
	r=$(( rng % $1 ))
}

pass=0 fail=0 n=0
port=$((20000 + seed % 9000))	# below flushcheck's, which may run alongside

# boot MODE CUT: serve MODE from its image, the loop alternating per cut
# and per mode ($nmode).
boot() {
	loop=epoll
	[ $((($2 + nmode) % 2)) = 1 ] && loop=uring
	log=$logs/crash-$1-$2.log
	initrd=$build/initramfs.cpio resp=
	case $1 in redis*) initrd=$build/initramfs-redis.cpio resp=--resp ;; esac
	serve_boot "$kernel" "$initrd" "$out/$1.img" "$log" \
		"paste.mode=$1 paste.loop=$loop"
}

nmode=0
for mode in $modes; do
	nmode=$((nmode + 1)) refusals=0
	rm -f "$out/$mode.img" "$out/$mode.state"
	touch "$out/$mode.state"
	mode_cuts=$cuts
	[ "$mode" = redis-rw ] && [ "$cuts" -lt 2 ] && mode_cuts=2
	for cut in $(seq 0 "$mode_cuts"); do
		ok=1 what=
		if ! boot "$mode" "$cut"; then
			ok=0 what="boot"
		else
			if [ "$cut" -gt 0 ]; then
				res=$("$load" verify $resp -p $port -o "$out/$mode.state" \
					-s $((seed + cut)) 2>&1) || ok=0
				echo "$res" | sed 's/^/# /'
				what="recovery after cut $cut"
			fi
			if [ $ok = 1 ] && [ "$cut" -lt "$mode_cuts" ]; then
				# Even cuts: 6 keys per connection overwritten in
				# pipelines of up to 8, cut soon after recovery
				# (a lone cut: anywhere in 2.5 s, so checkpoints
				# can run first); odd cuts: a new key per request.
				# Both hostile.
				next_rand 2200
				shape="-K 6 -P 8" at=$((100 + r % 500))
				[ "$cuts" = 1 ] && at=$((300 + r))
				[ $((cut % 2)) = 1 ] && shape="-P 4" at=$((300 + r))
				# Once the log has filled (about 3 s in, seen):
				# while writes are refused, or after.
				[ "$mode" = paste-ckptfail ] && at=$((5000 + r))
				# Redis: past its first rewrites (a log part of
				# 1024 entries: one every second or so).
				case $mode in redis*) at=$((2500 + r)) ;; esac
				# redis-rw: after the first, soon after recovery.
				[ "$mode" = redis-rw ] && [ "$cut" -gt 0 ] && at=$((100 + r % 500))
				res=$("$load" load $resp -p $port -r "$cut" -o "$out/$mode.state" \
					$shape -X -s $((seed + cut)) -k "$qpid" -t $at 2>&1) ||
					{ ok=0; what="load"; }
				echo "$res" | sed 's/^/# /'
				refused=$(echo "$res" | sed -n 's/.* \([0-9]*\) refused with 503.*/\1/p')
				refusals=$((refusals + ${refused:-0}))
			fi
		fi
		serve_stop
		tr -d '\r' < "$log" | grep -a '^paste-crash: rewrite ' | uniq -c |
			sed 's/^ */# /'
		splat_in "$log" && { ok=0; what="$what, kernel splat"; }
		[ "$cut" -gt 0 ] || [ $ok = 0 ] || continue
		n=$((n + 1))
		if [ $ok = 1 ]; then
			pass=$((pass + 1))
			echo "ok $n crash $mode: cut $cut recovered every acknowledged key"
		else
			fail=$((fail + 1))
			echo "not ok $n crash $mode: cut $cut: $what failed (log $log)"
			break
		fi
	done
	# paste-ckptfail must really have refused writes, in some load.
	if [ "$mode" = paste-ckptfail ]; then
		n=$((n + 1))
		if [ $refusals -gt 0 ]; then
			pass=$((pass + 1))
			echo "ok $n crash $mode: $refusals writes refused with 503 while checkpoints failed, none applied"
		else
			fail=$((fail + 1))
			echo "not ok $n crash $mode: no write was refused: the log never filled while checkpoints failed"
		fi
	fi
	# redis-rw: some cut must have landed while a rewrite ran.
	if [ "$mode" = redis-rw ]; then
		n=$((n + 1))
		during=0 rewrites=0
		for c in $(seq 0 $((mode_cuts - 1))); do
			said=$(tr -d '\r' < "$logs/crash-$mode-$c.log" |
				grep -a '^paste-crash: rewrite ')
			rewrites=$((rewrites + $(echo "$said" | grep -c 'under way')))
			[ "$(echo "$said" | tail -1)" = "paste-crash: rewrite under way" ] &&
				during=$((during + 1))
		done
		if [ "$during" -gt 0 ]; then
			pass=$((pass + 1))
			echo "ok $n crash $mode: $during of $mode_cuts cuts landed during a rewrite ($rewrites rewrites)"
		else
			fail=$((fail + 1))
			echo "not ok $n crash $mode: no cut landed during a rewrite"
		fi
	fi
	# paste-zc and redis-zc must really have received in place, in some boot.
	if [ "$mode" = paste-zc ] || [ "$mode" = redis-zc ]; then
		n=$((n + 1))
		if cat "$logs"/crash-$mode-*.log | tr -d '\r' |
		   grep -q '^paste-crash: zero-copy bytes [1-9]'; then
			pass=$((pass + 1))
			echo "ok $n crash $mode: the NIC placed payload in the region"
		else
			fail=$((fail + 1))
			echo "not ok $n crash $mode: no byte was received in place"
		fi
	fi
done
echo "crashtest: $pass passed, $fail failed"
[ $fail -eq 0 ]
