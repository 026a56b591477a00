#!/bin/sh
# SPDX-License-Identifier: MIT
#
# make check-redis-suite: Redis's own test suite (./runtest, Tcl) in its
# default configuration, on the host, against stock Debian Redis and
# against Redis on PASTE built from the same source, one after the other
# on the same machine. The patched build passes if it fails no test that
# stock does not fail too. It takes about 17 minutes per build here.
# RUNTEST_ARGS adds runtest options (e.g. "--single unit/type/incr").
# Output: BUILD/redis/suite-{stock,paste}.log, the failures of each in
# suite-{stock,paste}.failed, and a comparison.
# Usage: run-suite.sh BUILD
set -u
# Tests Debian's source cannot run in either build: a security update's
# test sets repl-diskless-load to "yes", which 7.0 refuses, and the
# exception ends the whole run.
skip="--skiptest /Fullsync.should.not.free.scripting.engine"
build=$1
out=$build/redis
args=${RUNTEST_ARGS:-}

# run NAME TREE: the suite in TREE; its failed tests, one per line.
run() {
	log=$out/suite-$1.log
	echo "  RUNTEST $1 ($2)${args:+ $args}"
	t0=$(date +%s)
	(cd "$2" && ./runtest --clients 2 --timeout 1800 $skip $args) > "$log.raw" 2>&1
	rc=$?
	sed 's/\x1b\[[0-9;]*m//g' "$log.raw" > "$log" && rm -f "$log.raw"
	# "[err]: name in file" and "[exception]" lines, without timings.
	grep -E '^\[(err|exception)\]' "$log" | sed 's/ *([0-9]* ms)$//' | sort -u \
		> "$out/suite-$1.failed"
	echo "  RUNTEST $1: exit $rc, $(grep -c '^\[ok\]' "$log") ok," \
		"$(wc -l < "$out/suite-$1.failed") failed, $(($(date +%s) - t0)) s"
	grep -q 'All tests passed without errors\|The following tests failed' "$log" ||
		{ echo "  RUNTEST $1 did not finish: see $log"; unfinished=1; }
}

unfinished=0

[ -x "$out/stock/src/redis-server" ] && [ -x "$out/src/src/redis-server" ] ||
	{ echo "check-redis-suite: build both with make redis (REDIS_STOCK=1)" >&2; exit 1; }
run stock "$out/stock"
run paste "$out/src"
new=$(comm -13 "$out/suite-stock.failed" "$out/suite-paste.failed")
echo "  RUNTEST failures of both: $(comm -12 "$out/suite-stock.failed" "$out/suite-paste.failed" | wc -l)"
if [ -n "$new" ]; then
	echo "  RUNTEST failures of Redis on PASTE only:"
	echo "$new" | sed 's/^/    /'
	echo "0 passed, 1 failed"
	exit 1
fi
[ $unfinished = 0 ] || { echo "0 passed, 1 failed"; exit 1; }
echo "1 passed, 0 failed"
