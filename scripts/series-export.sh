#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Write the series in WORKTREE (commits on top of "pristine", as
# series-tree.sh makes them and a developer then edits with git) back to
# the repository: patches/NNNN-*.patch without the files each commit adds,
# those files at their final version, and patches/series. New files keep
# the repository path the old series gave them; others get their kernel
# path.
# Usage: series-export.sh REPO WORKTREE
set -eu
. "$(dirname "$0")/series-lib.sh"
repo=$1 wt=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Kernel path -> repository path, from the current series.
series_lines "$repo" | while read -r patch files; do
	for f in $files; do
		echo "${f#*:} ${f%%:*}"
	done
done > "$tmp/map"

git -C "$wt" format-patch -q --zero-commit -o "$tmp/out" pristine..HEAD
grep '^#' "$repo/patches/series" > "$tmp/series"
for p in "$tmp"/out/*.patch; do
	commit=$(git -C "$wt" rev-list --reverse pristine..HEAD |
		sed -n "$(basename "$p" | sed 's/^0*\([0-9]*\)-.*/\1/')p")
	line=$(basename "$p")
	for dst in $(git -C "$wt" diff-tree --no-commit-id --name-only -r \
			--diff-filter=A "$commit"); do
		src=$(awk -v d="$dst" '$1 == d { print $2 }' "$tmp/map")
		src=${src:-$dst}
		mkdir -p "$repo/$(dirname "$src")"
		git -C "$wt" show "HEAD:$dst" > "$repo/$src"
		if [ "$src" = "$dst" ]; then
			line="$line $src"
		else
			line="$line $src:$dst"
		fi
		awk -v want="diff --git a/$dst b/$dst" '
			/^diff --git / { skip = ($0 == want) }
			/^-- $/ { skip = 0 }
			!skip { print }' "$p" > "$p.new"
		mv "$p.new" "$p"
	done
	echo "$line" >> "$tmp/series"
done

rm -f "$repo"/patches/[0-9][0-9][0-9][0-9]-*.patch
cp "$tmp"/out/*.patch "$repo/patches/"
cp "$tmp/series" "$repo/patches/series"
echo "  EXPORT $(ls "$tmp"/out | wc -l) patches to $repo/patches"
