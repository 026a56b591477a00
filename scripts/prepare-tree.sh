#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Bring the kernel tree in build/linux to "pristine linux-source-6.12 plus the
# PASTE series": unpack it once (as a git repository tagged "pristine"), then
# apply patches/series. Files are only rewritten when their content changes,
# so an incremental kernel build recompiles only what really changed.
#
# Usage: prepare-tree.sh REPO KSRC TARBALL
set -eu
. "$(dirname "$0")/series-lib.sh"

repo=$1
ksrc=$2
tarball=$3

if [ ! -d "$ksrc/.git" ]; then
	echo "  UNPACK  $tarball"
	rm -rf "$ksrc" "$ksrc.tmp"
	mkdir -p "$ksrc.tmp"
	tar -C "$ksrc.tmp" -xf "$tarball"
	mv "$ksrc.tmp"/linux-source-* "$ksrc"
	rmdir "$ksrc.tmp"
	git -C "$ksrc" init -q
	# No automatic gc: it would pack 90,000 objects on one core while
	# the kernel builds on both.
	git -C "$ksrc" config gc.auto 0
	git -C "$ksrc" add -f -A .
	git -C "$ksrc" -c user.name=paste -c user.email=paste@localhost \
		commit -q -m "linux-source-6.12 pristine"
	git -C "$ksrc" tag pristine
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

# Files the series touches, now and at the previous run.
series_lines "$repo" | while read -r patch files; do
	sed -n 's|^+++ b/||p' "$repo/patches/$patch"
	for f in $files; do
		echo "${f#*:}"
	done
done | sort -u > "$stage/.files"
touch "$ksrc/.paste-files"
sort -u "$ksrc/.paste-files" "$stage/.files" > "$stage/.all"

# Stage pristine copies of touched files, then apply the series to them.
while read -r f; do
	mkdir -p "$stage/$(dirname "$f")"
	git -C "$ksrc" show "pristine:$f" > "$stage/$f" 2>/dev/null || rm -f "$stage/$f"
done < "$stage/.all"

n=0
series_lines "$repo" | while read -r patch files; do
	n=$((n + 1))
	for f in $files; do
		src=${f%%:*}
		dst=${f#*:}
		if [ ! -f "$repo/$src" ]; then
			echo "prepare-tree: $patch lists $src, which does not exist" >&2
			exit 1
		fi
		mkdir -p "$stage/$(dirname "$dst")"
		series_file_at "$repo" $n "$src" "$dst" "$stage/$dst"
	done
	if ! patch -d "$stage" -p1 -s -f --no-backup-if-mismatch \
		< "$repo/patches/$patch" > "$stage/.log" 2>&1; then
		cat "$stage/.log" >&2
		echo "prepare-tree: patch $patch does not apply" >&2
		exit 1
	fi
done

# Every new file must come out of the series as the repository has it.
series_lines "$repo" | while read -r patch files; do
	for f in $files; do
		if ! cmp -s "$repo/${f%%:*}" "$stage/${f#*:}"; then
			echo "prepare-tree: the series does not end in ${f%%:*}" >&2
			exit 1
		fi
	done
done

# Copy what differs; remove files that the series no longer adds.
n=0
while read -r f; do
	if [ -f "$stage/$f" ]; then
		if ! cmp -s "$stage/$f" "$ksrc/$f"; then
			mkdir -p "$ksrc/$(dirname "$f")"
			cp "$stage/$f" "$ksrc/$f"
			n=$((n + 1))
		fi
	elif [ -f "$ksrc/$f" ]; then
		rm -f "$ksrc/$f"
		n=$((n + 1))
	fi
done < "$stage/.all"
cp "$stage/.files" "$ksrc/.paste-files"
echo "  SERIES  $(series_lines "$repo" | wc -l) patches, $n files updated"
