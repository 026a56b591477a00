#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Emit the PASTE series as it would be posted: one commit per line of
# patches/series (the patch plus the new files it lists) on top of pristine
# linux-source-6.12 (series-tree.sh), then git format-patch with a cover
# letter.
# Usage: patchset.sh REPO KSRC OUTDIR
set -eu
repo=$1 ksrc=$2 out=$3
wt=$(dirname "$ksrc")/patchset-tree

"$(dirname "$0")/series-tree.sh" "$repo" "$ksrc" "$wt"
g() { git -C "$wt" "$@"; }

rm -rf "$out"
g format-patch -q --cover-letter --subject-prefix="RFC PATCH net-next" \
	-o "$out" pristine..HEAD
cover=$(ls "$out"/0000-*.patch)
python3 - "$cover" "$repo/patches/cover-letter.txt" <<'PY'
import sys
cover, text = sys.argv[1], open(sys.argv[2]).read()
subject, body = text.split('\n', 1)
s = open(cover).read()
s = s.replace('*** SUBJECT HERE ***', subject.strip())
s = s.replace('*** BLURB HERE ***', body.strip())
open(cover, 'w').write(s)
PY
git -C "$ksrc" worktree remove --force "$wt"
echo "  PATCHES $out ($(ls "$out" | wc -l) files)"
