#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Redis on PASTE: fetch Debian's redis source package, apply our series
# (tools/redis/patches/series) and build it against libpaste; build the
# same source unpatched too (stock), for the test-suite comparison and the
# benchmark. The sources are Debian's (scripts/deb-source.sh).
#
# Output, in BUILD/redis:
#   bin/redis-server, bin/redis-cli, bin/redis-benchmark   (patched)
#   bin/redis-server-stock                      (unpatched, with REDIS_STOCK=1)
#   bin/redis-server-bug1   the flush checker's seeded bug (REDIS_SEEDED=1)
#   src/, stock/   the unpacked trees (src/ is where ./runtest runs)
# Usage: build.sh REPO BUILD
set -eu
repo=$1 build=$2
out=$build/redis
patches=$repo/tools/redis/patches
jobs=$(nproc)
sudo=
[ "$(id -u)" = 0 ] || sudo=sudo

# Build dependencies (the test suite's tclsh too), as the kernel's are.
missing=
for p in libjemalloc-dev libssl-dev pkg-config tcl; do
	dpkg-query -W -f='${Status}\n' $p 2>/dev/null | grep -q '^install ok installed' ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "  APT    $missing"
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get -qq update
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get -qq -y \
		--no-install-recommends install $missing > "$build/apt-redis.log" 2>&1 ||
		{ cat "$build/apt-redis.log"; exit 1; }
fi

mkdir -p "$out/bin"
dsc=$("$repo/scripts/deb-source.sh" redis "$out/dl")
echo "  REDIS   $(basename "$dsc" .dsc)"

# unpack DIR: the Debian source with Debian's own patches applied.
unpack() {
	rm -rf "$1"
	dpkg-source -q --no-check -x "$dsc" "$1" > /dev/null
}

# make_redis DIR EXTRA...: Debian's build options (system jemalloc, TLS).
make_redis() {
	dir=$1
	shift
	make -s -C "$dir" -j"$jobs" USE_SYSTEM_JEMALLOC=yes BUILD_TLS=yes "$@" \
		> "$dir.build.log" 2>&1 || { tail -30 "$dir.build.log"; exit 1; }
}

# install_bin FILE NAME: into bin/ by rename (a running copy stays valid).
install_bin() {
	cp "$1" "$out/bin/.$2.tmp"
	mv "$out/bin/.$2.tmp" "$out/bin/$2"
}

stamp=$out/.stock
if [ "${REDIS_STOCK:-1}" = 1 ] && { [ ! -f "$stamp" ] || [ "$dsc" -nt "$stamp" ]; }; then
	unpack "$out/stock"
	echo "  MAKE    redis (stock)"
	make_redis "$out/stock"
	install_bin "$out/stock/src/redis-server" redis-server-stock
	touch "$stamp"
fi

# The patched tree, made anew when the series changed; rebuilt when
# libpaste did.
sum=$( (cat "$dsc" "$patches/series"; sed -e '/^#/d' -e "s|^|$patches/|" "$patches/series" |
	xargs cat) | sha256sum | cut -d' ' -f1)
if [ "$(cat "$out/src/.series" 2>/dev/null)" != "$sum" ]; then
	unpack "$out/src.new"
	while read -r p; do
		case "$p" in ''|\#*) continue ;; esac
		patch -s -p1 -d "$out/src.new" < "$patches/$p" ||
			{ echo "redis: $p does not apply to $(basename "$dsc")" >&2; exit 1; }
	done < "$patches/series"
	echo "$sum" > "$out/src.new/.series"
	rm -rf "$out/src"
	mv "$out/src.new" "$out/src"
fi
if [ ! "$out/src/src/redis-server" -nt "$build/lib/libpaste.a" ]; then
	echo "  MAKE    redis (patched, libpaste)"
	make_redis "$out/src" \
		PASTE_CFLAGS="-isystem $build/usr/include -I$repo/tools/lib/paste" \
		PASTE_LIBS="$build/lib/libpaste.a"
fi
# The seeded-bug build: a copy of the patched tree, rebuilt with the macro.
if [ "${REDIS_SEEDED:-0}" = 1 ] &&
   [ ! "$out/bin/redis-server-bug1" -nt "$out/src/src/redis-server" ]; then
	rm -rf "$out/src-bug1"
	cp -a "$out/src" "$out/src-bug1"
	echo "  MAKE    redis (seeded bug 1: replies before the commit)"
	make_redis "$out/src-bug1" REDIS_CFLAGS=-DREDIS_PASTE_SEEDED_BUG=1 \
		PASTE_CFLAGS="-isystem $build/usr/include -I$repo/tools/lib/paste" \
		PASTE_LIBS="$build/lib/libpaste.a"
	install_bin "$out/src-bug1/src/redis-server" redis-server-bug1
fi
for b in redis-server redis-cli redis-benchmark; do
	install_bin "$out/src/src/$b" $b
done
echo "  REDIS   $out/bin"
