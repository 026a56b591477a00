#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Run the selftests of one boot inside the VM and print KTAP: one result per
# test program, the program's own KTAP indented as "# " comments, and a
# final "paste-vm: totals pass:N fail:N skip:N" line that the host reads.
# Usage: run-guest-tests.sh BOOT LEVEL
#   tests.list: "BOOT LEVELS TIMEOUT NAME CMD...": a line runs when LEVELS
#   (check, full or check,full) names LEVEL (check or full).
boot=${1:-1} level=${2:-check}
list=/paste/tests.list
timeout_default=600

cd /paste/bin || exit 1
awk -v b="$boot" -v l="$level" '$1 == b && index("," $2 ",", "," l ",")' \
	$list > /tmp/tests.$boot
n=$(wc -l < /tmp/tests.$boot)
pass=0 fail=0 skip=0 i=0

# Leak baseline: forget what boot itself left behind.
kml=/sys/kernel/debug/kmemleak
if [ -w $kml ]; then
	echo scan > $kml; echo clear > $kml
	echo "# kmemleak: on; reports leaks of this run only"
fi

echo "TAP version 13"
echo "1..$n"
while read -r b lvl tmo name cmd; do
	i=$((i + 1))
	out=/tmp/out.$i
	t0=$(date +%s)
	timeout -s KILL "${tmo:-$timeout_default}" sh -c "$cmd" > $out 2>&1 < /dev/null
	rc=$?
	sed 's/^/# /' $out
	echo "# $name took $(($(date +%s) - t0)) s"
	totals=$(grep -o 'Totals: pass:[0-9]* fail:[0-9]* xfail:[0-9]* xpass:[0-9]* skip:[0-9]*' $out | tail -1)
	if [ -n "$totals" ]; then
		set -- $(echo "$totals" | tr -c '0-9\n' ' ')
		p=$1 f=$2 s=$5
	else
		p=0 f=0 s=0
	fi
	if [ $rc -eq 137 ]; then
		echo "not ok $i $name # TIMEOUT after ${tmo}s"
		f=$((f + 1))
	elif [ $rc -eq 4 ] && [ "$p$f" = 00 ]; then
		echo "ok $i $name # SKIP"
		s=$((s + 1))
	elif [ $rc -ne 0 ]; then
		echo "not ok $i $name # exit $rc"
		[ "$f" -gt 0 ] || f=1
	else
		echo "ok $i $name"
		[ -n "$totals" ] || p=1
	fi
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
done < /tmp/tests.$boot

if [ -w $kml ]; then
	echo scan > $kml; sleep 1; echo scan > $kml
	if [ -s $kml ]; then
		echo "# kmemleak report:"
		sed 's/^/# /' $kml
		echo "paste-vm: kmemleak found unreferenced objects"
	fi
fi
echo "paste-vm: totals pass:$pass fail:$fail skip:$skip"
