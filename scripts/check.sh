#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make check: run every test stage, even after one fails, and close with
# one "N passed, N failed" line over all of them.
# Usage: check.sh BUILD STAGE...   (make targets: check-host, check-vm, ...)
set -u
build=$1
shift
mkdir -p "$build/logs"
pass=0 fail=0 skip=0 bad=
for stage in "$@"; do
	out=$build/logs/$stage.out
	echo "# ---- $stage"
	{ make -s --no-print-directory "$stage" 2>&1; echo $? > "$out.rc"; } | tee "$out"
	# The stage's own closing line, or (host stage) its kselftest lines.
	line=$(grep -E '^([a-z]+: )?[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
	if [ -n "$line" ]; then
		set -- $(echo "$line" | sed 's/^[a-z]*: //' | tr -c '0-9\n' ' ')
		p=$1 f=$2 s=${3:-0}
	else
		p=$(grep -c '^# ok ' "$out") f=$(grep -c '^# not ok ' "$out") s=0
	fi
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
	# A stage that exits non-zero without a failed test (build error,
	# kernel splat, timeout) still fails the run.
	[ "$(cat "$out.rc")" = 0 ] || bad="$bad $stage"
done
[ -z "$bad" ] || echo "# stages that failed:$bad"
summary="$pass passed, $fail failed"
[ "$skip" -eq 0 ] || summary="$summary, $skip skipped"
echo "$summary"
[ "$fail" -eq 0 ] && [ -z "$bad" ]
