#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Check the PASTE series out as git commits: a worktree of the pristine
# kernel in KSRC with one commit per line of patches/series (the patch plus
# the new files it adds, at the version it adds). patchset.sh posts it,
# series-build.sh builds it patch by patch, and series-export.sh writes
# commits edited there back to patches/ and the new files.
# Usage: series-tree.sh REPO KSRC WORKTREE
set -eu
. "$(dirname "$0")/series-lib.sh"
repo=$1 ksrc=$2 wt=$3

git -C "$ksrc" worktree remove --force "$wt" 2>/dev/null || rm -rf "$wt"
git -C "$ksrc" worktree prune
git -C "$ksrc" worktree add -q --detach "$wt" pristine
name=$(git -C "$repo" config user.name || echo "PASTE developers")
email=$(git -C "$repo" config user.email || echo "paste@localhost")
g() { git -C "$wt" -c user.name="$name" -c user.email="$email" "$@"; }

n=0
series_lines "$repo" | while read -r patch files; do
	n=$((n + 1))
	g am -q --keep-cr "$repo/patches/$patch" ||
		{ echo "series-tree: $patch does not apply" >&2; exit 1; }
	for f in $files; do
		mkdir -p "$wt/$(dirname "${f#*:}")"
		series_file_at "$repo" $n "${f%%:*}" "${f#*:}" "$wt/${f#*:}"
		g add -f "${f#*:}"
	done
	g commit -q --amend --no-edit
done
