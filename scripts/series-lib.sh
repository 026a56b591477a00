# SPDX-License-Identifier: GPL-2.0
#
# Shell functions shared by the scripts that turn patches/series into a
# kernel tree, sourced with ". scripts/series-lib.sh".
#
# patches/series names, per patch, the new files that patch adds. The
# repository keeps those files at their final version (net/paste/*.c and
# so on); a later patch of the series may change a file an earlier one
# added, as ordinary hunks in its .patch. The version a patch adds is then
# the final file with the later patches' hunks to it reversed.

# series_lines REPO: "patch files..." per patch, in order.
series_lines() {
	grep -v '^#' "$1/patches/series" | grep -v '^[[:space:]]*$'
}

# series_section PATCHFILE PATH: the part of a patch that changes PATH.
series_section() {
	awk -v want="diff --git a/$2 b/$2" '
		/^diff --git / { on = ($0 == want) }
		/^-- $/ { on = 0 }
		on { print }' "$1"
}

# series_file_at REPO N SRC DST OUT: write to OUT the version of the new
# file SRC (DST in the kernel tree) that patch N of the series adds.
series_file_at() {
	_repo=$1 _n=$2 _src=$3 _dst=$4 _out=$5
	_tmp=$(mktemp -d)
	mkdir -p "$_tmp/$(dirname "$_dst")"
	cp "$_repo/$_src" "$_tmp/$_dst"
	series_lines "$_repo" | awk -v n="$_n" 'NR > n { print $1 }' |
		tac > "$_tmp/.later"
	while read -r _p; do
		series_section "$_repo/patches/$_p" "$_dst" > "$_tmp/.hunks"
		[ -s "$_tmp/.hunks" ] || continue
		if ! patch -R -p1 -s -f --no-backup-if-mismatch -d "$_tmp" \
			< "$_tmp/.hunks" > "$_tmp/.log" 2>&1; then
			cat "$_tmp/.log" >&2
			echo "series: $_p does not reverse on $_dst" >&2
			rm -rf "$_tmp"
			return 1
		fi
	done < "$_tmp/.later"
	cp "$_tmp/$_dst" "$_out"
	rm -rf "$_tmp"
}
