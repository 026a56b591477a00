#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make check / make check-full: run every test stage, even after one fails,
# and close with one "N passed, N failed" line over all of them.
#
# Both cores work from the start: once the tree is configured and the uapi
# headers are installed, the debug kernel and the QEMU plugins build in the
# background while check-host runs and the initramfs is packed in the
# foreground (neither needs the kernel image). The VM stages wait for that
# build and then run with CHECK_BUILT=1, which keeps them from rebuilding
# what they boot. Stages joined by "+" run at the same time, each guest on
# what the other leaves idle (the power cuts and the flush checker keep
# about 1.3 of the 2 cores busy each); their output is shown in order.
# Each stage's wall time is printed, and the background build's.
#
# Usage: check.sh BUILD LEVEL STAGE[+STAGE...]...
#   LEVEL check: what catches the most for its minutes; full: every cut,
#   every variant, the long tests (exported to the stages as CHECK_LEVEL).
set -u
build=$1 level=$2
shift 2
export CHECK_LEVEL=$level
unset CHECK_BUILT
logs=$build/logs
mkdir -p "$logs"
start=$(date +%s)
# Background jobs of a script ignore SIGINT: take them down with us.
trap 'trap - INT TERM; kill 0' INT TERM

# elapsed SINCE: seconds from SINCE to now.
elapsed() {
	echo $(($(date +%s) - $1))
}

# run_stage STAGE: run it; its output goes to $logs/STAGE.out, closed by
# its wall time, and its exit status to STAGE.out.rc.
run_stage() {
	t0=$(date +%s)
	{
		echo "# ---- $1 ($level)"
		make -s --no-print-directory "$1" 2>&1
		echo $? > "$logs/$1.out.rc"
		echo "# $1: $(elapsed "$t0") s"
	} >> "$logs/$1.out"
}

# count_stage STAGE: add its results to the totals.
count_stage() {
	out=$logs/$1.out
	# The stage's own closing line, or (host stage) its kselftest lines.
	line=$(grep -E '^([a-z]+: )?[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
	if [ -n "$line" ]; then
		set -- $(echo "$line" | sed 's/^[a-z]*: //' | tr -c '0-9\n' ' ')
		p=$1 f=$2 s=${3:-0}
	else
		p=$(grep -c '^# ok ' "$out") f=$(grep -c '^# not ok ' "$out") s=0
	fi
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
}

# Serial first: packages, the tree, the debug config and its headers.
# Without them nothing can be built or run.
echo "# ---- prepare (packages, tree, headers)"
make -s --no-print-directory deps headers > "$logs/prepare.out" 2>&1
rc=$?
cat "$logs/prepare.out"
echo "# prepare: $(elapsed "$start") s"
if [ $rc != 0 ]; then
	echo "# prepare failed: no stage can run"
	echo "0 passed, 1 failed"
	exit 1
fi

bg_start=$(date +%s)
(
	make -s --no-print-directory kernel-debug plugins > "$logs/background.out" 2>&1
	echo $? > "$logs/background.out.rc"
	echo "# background build (debug kernel, plugins): $(elapsed "$bg_start") s" \
		>> "$logs/background.out"
) &
bg=$!

# run_group STAGE...: run them at the same time, show the first one's output
# as it comes and the others' when all ended, and count them.
run_group() {
	first=$1 pids=
	for stage in "$@"; do
		rm -f "$logs/$stage.out.rc"
		: > "$logs/$stage.out"
		run_stage "$stage" &
		pids="$pids $!"
		[ "$stage" != "$first" ] || first_pid=$!
	done
	tail -n +1 -f --pid="$first_pid" "$logs/$first.out"
	wait $pids
	for stage in "$@"; do
		[ "$stage" = "$first" ] || cat "$logs/$stage.out"
		count_stage "$stage"
		# A stage that exits non-zero without a failed test (build
		# error, kernel splat, timeout) still fails the run.
		[ "$(cat "$logs/$stage.out.rc" 2>/dev/null)" = 0 ] || bad="$bad $stage"
	done
}

pass=0 fail=0 skip=0 bad=
for group in "$@"; do
	if [ "$group" != check-host ] && [ -n "$bg" ]; then
		# The user-space half of the VM stages' inputs (Redis without
		# its stock build; its seeded-bug build at full), then the kernel.
		make -s --no-print-directory initramfs initramfs-redis REDIS_STOCK=0 \
			> "$logs/initramfs.out" 2>&1
		rc=$?
		cat "$logs/initramfs.out"
		echo "# waiting for the background build (log $logs/background.out)"
		wait "$bg"
		bg=
		grep -v '^  ' "$logs/background.out"
		# Built once for every VM stage. If not, each stage builds
		# what it needs and shows why it cannot, none beside another.
		if [ $rc = 0 ] && [ "$(cat "$logs/background.out.rc")" = 0 ]; then
			export CHECK_BUILT=1
		else
			echo "# the VM stages' kernel or initramfs did not build"
		fi
	fi
	stages=$(echo "$group" | tr + ' ')
	if [ -n "${CHECK_BUILT:-}" ] || [ "$group" = check-host ]; then
		run_group $stages
	else
		for stage in $stages; do
			run_group "$stage"
		done
	fi
done
[ -z "$bg" ] || wait "$bg"
echo "# make check ($level): $(elapsed "$start") s in all"
[ -z "$bad" ] || echo "# stages that failed:$bad"
summary="$pass passed, $fail failed"
[ "$skip" -eq 0 ] || summary="$summary, $skip skipped"
echo "$summary"
[ "$fail" -eq 0 ] && [ -z "$bad" ]
