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
# The selftests are user space: no u64, BIT() or __aligned() there.
user="--ignore PREFER_KERNEL_TYPES,BIT_MACRO,VOLATILE,PREFER_DEFINED_ATTRIBUTE_MACRO"
for f in $files; do
	case $f in
	selftests/*) $cp $user -f "$repo/$f" || rc=1 ;;
	*) $cp -f "$repo/$f" || rc=1 ;;
	esac
done
for p in "$repo"/patches/0*.patch; do
	if grep '^+++ b/' "$p" | grep -qv '^+++ b/tools/testing/selftests/'; then
		$cp "$p" || rc=1
	else
		$cp $user "$p" || rc=1
	fi
done
[ $rc -eq 0 ] && echo "  CHECKPATCH clean"
exit $rc
