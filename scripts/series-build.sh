#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Prove the series bisectable: check it out as commits (series-tree.sh),
# build the lean kernel after every patch, run checkpatch.pl --strict on
# every patch as posted, build the kselftests the last patch adds, and
# build the final tree once more with CONFIG_PASTE=n. Incremental builds in
# one object directory with ccache: a patch costs what it touches.
# Prints a table; fails if any build fails, a file of the series warns,
# or checkpatch complains.
# Usage: series-build.sh REPO KSRC BUILD
set -eu
repo=$1 ksrc=$2 build=$3
wt=$build/series-tree
obj=$build/obj-series
logs=$build/series-logs
jobs=$(nproc)

"$(dirname "$0")/series-tree.sh" "$repo" "$ksrc" "$wt"
rm -rf "$logs"
mkdir -p "$obj" "$logs"
# Warnings count in the files the series touches; pristine 6.12 has some.
git -C "$wt" diff --name-only pristine..HEAD | sed 's|^|/|' > "$logs/touched"

kmake() {
	make -s -C "$wt" CC="ccache gcc" KBUILD_BUILD_USER=paste \
		KBUILD_BUILD_HOST=paste -j"$jobs" "$@"
}

# tinyconfig + FRAGMENTS in a scratch directory; .config is replaced only
# when it changes, so that an unchanged configuration rebuilds nothing.
configure() {
	tmp=$obj.kconfig
	mkdir -p "$tmp"
	kmake O="$tmp" tinyconfig > /dev/null
	KCONFIG_CONFIG="$tmp/.config" "$wt/scripts/kconfig/merge_config.sh" \
		-m -O "$tmp" "$tmp/.config" "$@" > "$logs/merge.log"
	kmake O="$tmp" olddefconfig > /dev/null
	cmp -s "$tmp/.config" "$obj/.config" || cp "$tmp/.config" "$obj/.config"
}

# build NAME: bzImage in $obj, logged; sets $result.
build() {
	t0=$(date +%s)
	if kmake O="$obj" bzImage > "$logs/$1.log" 2>&1; then
		result=ok
	else
		result=FAILED
	fi
	if grep 'warning:' "$logs/$1.log" | grep -q -F -f "$logs/touched"; then
		result="$result+warnings"
	fi
	secs=$(($(date +%s) - t0))
}

checkpatch="$wt/scripts/checkpatch.pl --strict --quiet --show-types --no-tree \
	--ignore FILE_PATH_CHANGES,SPDX_LICENSE_TAG"
rc=0
printf '%-3s %-60s %-9s %6s %s\n' "#" "patch" "build" "secs" "checkpatch"
n=0
for c in $(git -C "$wt" rev-list --reverse pristine..HEAD); do
	n=$((n + 1))
	git -C "$wt" checkout -q --detach "$c"
	configure "$repo/configs/base.config" "$repo/configs/lean.config"
	build "$n"
	# From the patch that adds it on, PASTE must really be built.
	if git -C "$wt" cat-file -e HEAD:net/paste/Kconfig 2>/dev/null &&
	   ! grep -q '^CONFIG_PASTE=y' "$obj/.config"; then
		result="$result+no-PASTE"
	fi
	# The selftests are user space: no u64, BIT() or __aligned() there.
	extra=
	git -C "$wt" diff --name-only HEAD~ HEAD |
		grep -qv '^tools/testing/selftests/' ||
		extra="--ignore PREFER_KERNEL_TYPES,BIT_MACRO,VOLATILE,PREFER_DEFINED_ATTRIBUTE_MACRO"
	if git -C "$wt" format-patch -1 --stdout HEAD |
		$checkpatch $extra - > "$logs/$n.checkpatch" 2>&1; then
		cp_result=clean
	else
		cp_result="$(grep -c '^[A-Z]*:' "$logs/$n.checkpatch") findings"
	fi
	[ "$result" = ok ] && [ "$cp_result" = clean ] || rc=1
	printf '%-3s %-60.60s %-9s %6s %s\n' "$n" \
		"$(git -C "$wt" log -1 --format=%s)" "$result" "$secs" "$cp_result"
done

# The kselftests of the last patch, against its exported headers.
t0=$(date +%s)
mkdir -p "$obj/kselftest"
if kmake O="$obj" headers > "$logs/kselftest.log" 2>&1 &&
   make -C "$wt/tools/testing/selftests/net/paste" OUTPUT="$obj/kselftest" \
	KHDR_INCLUDES="-isystem $obj/usr/include" >> "$logs/kselftest.log" 2>&1
then
	result=ok
else
	result=FAILED
fi
grep -q 'warning:' "$logs/kselftest.log" && result="$result+warnings"
[ "$result" = ok ] || rc=1
printf '%-3s %-60s %-9s %6s\n' "" "kselftests net/paste" "$result" $(($(date +%s) - t0))

# The whole series with PASTE configured out.
printf 'CONFIG_PASTE=n\n' > "$logs/no-paste.config"
configure "$repo/configs/base.config" "$repo/configs/lean.config" \
	"$logs/no-paste.config"
build no-paste
grep -q '^CONFIG_PASTE=y' "$obj/.config" && result="$result+PASTE-still-on"
[ "$result" = ok ] || rc=1
printf '%-3s %-60s %-9s %6s\n' "" "all patches, CONFIG_PASTE=n" "$result" "$secs"

echo "  logs in $logs"
exit $rc
