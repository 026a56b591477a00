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

# Work in a scratch directory; replace .config only when it changes, so an
# unchanged configuration does not trigger rebuilds.
tmp=$obj.kconfig
mkdir -p "$obj" "$tmp"
make -s -C "$ksrc" O="$tmp" tinyconfig > /dev/null
KCONFIG_CONFIG="$tmp/.config" "$ksrc/scripts/kconfig/merge_config.sh" \
	-m -O "$tmp" "$tmp/.config" "$@" > "$tmp/merge.log"
make -s -C "$ksrc" O="$tmp" olddefconfig > /dev/null
cmp -s "$tmp/.config" "$obj/.config" || cp "$tmp/.config" "$obj/.config"

bad=0
for frag in "$@"; do
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=n)
			opt=${line%=n}
			if grep -q "^$opt=" "$tmp/.config"; then
				echo "kconfig: $opt should be unset in $obj/.config" >&2
				bad=1
			fi
			;;
		CONFIG_*=*)
			if ! grep -qx -- "$line" "$tmp/.config"; then
				echo "kconfig: wanted $line ($(basename "$frag")), got:" \
					"$(grep "^${line%%=*}=" "$tmp/.config" || echo unset)" >&2
				bad=1
			fi
			;;
		esac
	done < "$frag"
done
[ $bad -eq 0 ] || { echo "kconfig: $obj/.config lacks wanted options" >&2; exit 1; }
echo "  CONFIG  $obj/.config ($(basename "$obj"))"
