#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Configure a kernel build directory from tinyconfig plus fragments, then
# check that every option the fragments ask for really is set: tinyconfig
# silently drops options whose dependencies are missing.
#
# Usage: kconfig.sh KSRC OBJ FRAGMENT...
set -eu

ksrc=$1
obj=$2
shift 2

mkdir -p "$obj"
make -s -C "$ksrc" O="$obj" tinyconfig > /dev/null
KCONFIG_CONFIG="$obj/.config" "$ksrc/scripts/kconfig/merge_config.sh" \
	-m -O "$obj" "$obj/.config" "$@" > "$obj/merge.log"
make -s -C "$ksrc" O="$obj" olddefconfig > /dev/null

bad=0
for frag in "$@"; do
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=n)
			opt=${line%=n}
			if grep -q "^$opt=" "$obj/.config"; then
				echo "kconfig: $opt should be unset in $obj/.config" >&2
				bad=1
			fi
			;;
		CONFIG_*=*)
			if ! grep -qx -- "$line" "$obj/.config"; then
				echo "kconfig: wanted $line ($(basename "$frag")), got:" \
					"$(grep "^${line%%=*}=" "$obj/.config" || echo unset)" >&2
				bad=1
			fi
			;;
		esac
	done < "$frag"
done
[ $bad -eq 0 ] || { echo "kconfig: $obj/.config lacks wanted options" >&2; exit 1; }
echo "  CONFIG  $obj/.config ($(basename "$obj"))"
