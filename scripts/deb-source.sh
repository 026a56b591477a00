#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Fetch a Debian source package, in the version the system would install
# (not a backport's), into DIR once, and print its .dsc. apt-get source
# needs a deb-src entry: one derived from the system's own Debian entry is
# added once (/etc/apt/sources.list.d/paste-sources.sources).
# Usage: deb-source.sh PACKAGE DIR
set -eu
pkg=$1 dir=$2
sudo=
[ "$(id -u)" = 0 ] || sudo=sudo

src_list=/etc/apt/sources.list.d/paste-sources.sources
sys=/etc/apt/sources.list.d/debian.sources
if ! apt-cache showsrc "$pkg" 2>/dev/null | grep -q "^Package: $pkg\$"; then
	[ -f $sys ] || { echo "$pkg: no $sys to derive a deb-src entry from" >&2; exit 1; }
	grep -v '^#' $sys | sed -e 's/^Types:.*/Types: deb-src/' | $sudo tee $src_list > /dev/null
	$sudo apt-get -qq update
fi

mkdir -p "$dir"
if ! ls "$dir/${pkg}_"*.dsc > /dev/null 2>&1; then
	ver=$(apt-cache policy "$pkg" | awk '$1 == "Candidate:" { print $2 }')
	(cd "$dir" && apt-get -qq source --download-only "$pkg${ver:+=$ver}" 2>&1 |
		grep -v -e unsandboxed >&2 || true)
	ls "$dir/${pkg}_"*.dsc > /dev/null 2>&1 ||
		{ echo "$pkg: could not fetch Debian's $pkg source" >&2; exit 1; }
fi
ls "$dir/${pkg}_"*.dsc | tail -1
