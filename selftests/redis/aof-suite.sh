#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# One unit of Redis's own test suite (tests/integration/aof.tcl, ...) in
# paste mode, in the VM: every server the tests start gets appendfsync
# paste and a region in its own directory, on the DAX filesystem. The
# tests aof-suite.exclude names are skipped, for the reason it gives.
# Succeeds only if runtest ran tests and reports no failure.
# Usage: aof-suite.sh UNIT TMPDIR [runtest options...]
#   REDIS_SUITE: the tree (runtest and tests/) if not the initramfs's.
#   UNIT e.g. integration/aof; TMPDIR on DAX, for the tests and the
#   servers' directories.
set -u
unit=$1 tmp=$2
shift 2
suite=${REDIS_SUITE:-/paste/redis/suite}
here=$(cd "$(dirname "$0")" && pwd)
out=$tmp.log

# procps's ps and pgrep, coreutils's env: not busybox's (see mkinitramfs.sh).
export PATH=/usr/bin:$PATH
# The test framework's client and server meet at "localhost".
grep -qs localhost /etc/hosts || echo "127.0.0.1 localhost" >> /etc/hosts
grep -qs '^hosts:' /etc/nsswitch.conf || echo "hosts: files dns" >> /etc/nsswitch.conf
# A copy of the tests on DAX, where their servers' directories (tests/tmp)
# and regions go; src/ points at the programs.
tree=$tmp/tree
mkdir -p "$tree/src"
cp -a "$suite/tests" "$tree/"
rm -rf "$tree/tests/tmp"
mkdir "$tree/tests/tmp"
for b in redis-server redis-cli redis-benchmark redis-check-aof redis-check-rdb; do
	ln -s "$(readlink -f "$suite/src/$b")" "$tree/src/$b"
done
grep -v '^#' "$here/aof-suite.exclude" > "$tmp.skip"
# rdb.tcl loads RDB files, which appendonly yes would make Redis ignore:
# there the paste setting is given but idle, as stock's appendfsync is.
aof="--config appendonly yes"
[ "$unit" = integration/rdb ] && aof=
# Paths are relative: each server's region lands in its own directory.
(cd "$tree" && tclsh8.6 tests/test_helper.tcl --clients 1 --timeout 1200 \
	--single "$unit" --skipfile "$tmp.skip" $aof \
	--config appendfsync paste --config paste-region paste.region \
	--config paste-region-size 8mb --config paste-log-size 8mb \
	--config paste-wal-entries 65536 "$@") > "$out" 2>&1
rc=$?
sed -i 's/\x1b\[[0-9;]*m//g' "$out"
ok=$(grep -c '^\[ok\]' "$out") skipped=$(grep -c '^\[skip\]' "$out")
echo "$unit: $ok passed, $skipped excluded (exit $rc)"
if [ $rc != 0 ] || [ "$ok" = 0 ] || ! grep -q 'All tests passed without errors' "$out"; then
	grep -A3 -E '^\[(err|exception)\]' "$out" | head -40
	exit 1
fi
