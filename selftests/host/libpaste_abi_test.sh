#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# libpaste as a system library: the shared object exports exactly the
# functions libpaste.h documents, each at version LIBPASTE_1.0, under the
# soname libpaste.so.1; "make install" into a staging directory yields a
# library that a program outside the tree builds against with
# "pkg-config --cflags --libs libpaste" and runs with. KTAP.
# The man pages (scripts/mkman.sh) lint clean and cover every function.
# Usage: libpaste_abi_test.sh BUILD KSRC
set -u
build=$(cd "$1" && pwd)
ksrc=$(cd "$2" && pwd)
repo=$(cd "$(dirname "$0")/../.." && pwd)
tools=$repo/tools
so=$build/lib/libpaste.so
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 fail=0

result() {	# result RC NAME [WHY]
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n libpaste.$2"
	else
		echo "not ok $n libpaste.$2${3:+: $3}"
		fail=1
	fi
}

echo "TAP version 13"
echo "1..6"

# The kernel-doc'ed functions of the header against the dynamic symbols.
grep -oE '^(/\*\*| \*) paste_[a-z0-9_]+\(\) -' "$tools/lib/paste/libpaste.h" |
	grep -oE 'paste_[a-z0-9_]+' | sort -u > "$tmp/documented"
nm -D --defined-only "$so" | awk '$2 == "T" { sub(/@.*/, "", $3); print $3 }' |
	sort -u > "$tmp/exported"
extra=$(comm -13 "$tmp/documented" "$tmp/exported" | tr '\n' ' ')
missing=$(comm -23 "$tmp/documented" "$tmp/exported" | tr '\n' ' ')
[ -s "$tmp/documented" ] && [ -z "$extra$missing" ]
result $? exports_exactly_the_documented_functions \
	"exported, not documented: ${extra:-none}; documented, not exported: ${missing:-none}"

unversioned=$(objdump -T "$so" | awk '$4 == ".text" && $6 != "LIBPASTE_1.0" { print $7 }' |
	tr '\n' ' ')
[ -z "$unversioned" ]
result $? every_symbol_at_LIBPASTE_1.0 "not at LIBPASTE_1.0: $unversioned"

soname=$(readelf -d "$so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = libpaste.so.1 ]
result $? soname_is_libpaste.so.1 "soname '$soname'"

"$repo/scripts/mkman.sh" "$repo" "$ksrc" "$tmp/man" > "$tmp/man.log" 2>&1
rc=$?
[ $rc = 0 ] || sed 's/^/# /' "$tmp/man.log"
result $rc man_pages_lint_clean "scripts/mkman.sh failed (kernel-doc or mandoc -T lint)"

nopage= unnamed=
synopsis=$(sed -n '/^libpaste(3)$/,/^Description$/p' "$repo/Documentation/paste/libpaste.rst")
for f in $(cat "$tmp/exported"); do
	[ -s "$tmp/man/$f.3" ] && grep -q "^\.SH NAME" "$tmp/man/$f.3" || nopage="$nopage $f"
	echo "$synopsis" | grep -qw "$f" || unnamed="$unnamed $f"
done
[ -s "$tmp/man/libpaste.3" ] && [ -s "$tmp/man/paste.7" ] && [ -z "$nopage$unnamed" ]
result $? man_pages_cover_every_function \
	"no page of its own:${nopage:- none}; not in libpaste(3)'s synopsis:${unnamed:- none}"

# Install, then build and run a program against the staged copy only.
stage=$tmp/stage prefix=/usr
make -s -C "$tools" BUILD="$build" MAN="$tmp/man" install DESTDIR="$stage" \
	PREFIX=$prefix > "$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; }
cat > "$tmp/outside.c" <<'EOF'
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <libpaste.h>

int main(int argc, char **argv)
{
	struct paste_region r;
	int err;

	(void)argc;
	err = paste_region_create(&r, argv[1], 1 << 16, PASTE_MAP_ALLOW_NOSYNC);
	if (err) {
		fprintf(stderr, "paste_region_create: %d\n", err);
		return 1;
	}
	printf("region of %llu bytes, SO_PASTE_REGION %d, write-back %s\n",
	       (unsigned long long)r.len, SO_PASTE_REGION, paste_flush_insn());
	paste_region_close(&r);
	return 0;
}
EOF
lib=$stage$prefix/lib
flags=$(PKG_CONFIG_PATH=$lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$stage \
	pkg-config --cflags --libs libpaste 2>&1)
chain=$(readlink "$lib/libpaste.so")/$(readlink "$lib/libpaste.so.1")
why="pkg-config says '$flags', links $chain"
[ "$chain" = libpaste.so.1/libpaste.so.1.0.0 ] &&
	[ -f "$stage$prefix/share/man/man3/paste_wal_commit.3" ] &&
	[ -f "$stage$prefix/share/man/man7/paste.7" ] &&
	cc -std=c11 -Wall -Wextra -Werror -o "$tmp/outside" "$tmp/outside.c" $flags \
		> "$tmp/cc.log" 2>&1 &&
	LD_LIBRARY_PATH=$lib "$tmp/outside" /dev/shm/libpaste-abi-$$ > "$tmp/run.log" 2>&1 &&
	LD_LIBRARY_PATH=$lib ldd "$tmp/outside" | grep -q "libpaste.so.1 => $lib/" &&
	grep -q '^region of 65536 bytes' "$tmp/run.log"
rc=$?
rm -f /dev/shm/libpaste-abi-$$
[ $rc = 0 ] || sed 's/^/# /' "$tmp/cc.log" "$tmp/run.log"
result $rc installed_library_builds_with_pkg_config "$why"
exit $fail
