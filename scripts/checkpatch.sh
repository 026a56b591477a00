#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# checkpatch.pl --strict on our new kernel files and on the patches.
# Usage: checkpatch.sh REPO KSRC
set -u
repo=$1 ksrc=$2
cp="$ksrc/scripts/checkpatch.pl --strict --no-tree --quiet --show-types \
	--ignore FILE_PATH_CHANGES,SPDX_LICENSE_TAG"
rc=0
files=$(grep -v '^#' "$repo/patches/series" | cut -d' ' -f2- | tr ' ' '\n' |
	sed 's/:.*//' | grep -E '\.(c|h)$')
for f in $files; do
	$cp -f "$repo/$f" || rc=1
done
for p in "$repo"/patches/0*.patch; do
	$cp "$p" || rc=1
done
[ $rc -eq 0 ] && echo "  CHECKPATCH clean"
exit $rc
