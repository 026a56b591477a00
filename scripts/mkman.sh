#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The man pages, generated from what is already written, never twice:
#   paste(7)        Documentation/networking/paste.rst (the socket API)
#   libpaste(3)     the "libpaste(3)" part of Documentation/paste/libpaste.rst
#   pasted(8)       its "pasted(8)" part
#   paste_*(3)      each function's kernel-doc comment in libpaste.h
# with rst2man and the kernel's scripts/kernel-doc; then mandoc -T lint
# must find nothing to warn about.
# Usage: mkman.sh REPO KSRC OUT
set -eu
repo=$1 ksrc=$2 out=$3
header=$repo/tools/lib/paste/libpaste.h
date=$(git -C "$repo" log -1 --format=%cs 2>/dev/null || date +%F)
mkdir -p "$out"
rm -f "$out"/*.[378]

# rst_page SRC FIRST LAST NAME SECTION SUMMARY: lines FIRST..LAST of SRC
# (LAST "$": to the end) as NAME(SECTION); its underlined headings become
# the page's sections, below the over- and underlined title.
rst_page() {
	{
		printf '%s\n%s\n%s\n\n' "$(echo "$4" | sed 's/./=/g')" "$4" \
			"$(echo "$4" | sed 's/./=/g')"
		printf '%s\n%s\n%s\n\n' "$(echo "$6" | sed 's/./-/g')" "$6" \
			"$(echo "$6" | sed 's/./-/g')"
		printf ':Manual section: %s\n:Manual group: PASTE\n:Date: %s\n\n' "$5" "$date"
		sed -n "$2,$3p" "$1" | grep -v '^\.\. SPDX' |
			sed 's/^\.\. code-block:: c$/::/'
	} > "$out/$4.rst"
	# Less of rst2man's output than mandoc lints: a blank line after a
	# heading, and a font mandoc does not know (a terminal's is fixed).
	rst2man --halt=warning "$out/$4.rst" |
		awk '/^\.S[HS] / { print; head = 1; next }
		     head && /^\.sp$/ { next } { head = 0 }
		     /^\.ft [CP]$/ { next } { print }' > "$out/$4.$5"
	rm "$out/$4.rst"
}

lp=$repo/Documentation/paste/libpaste.rst
first=$(grep -n '^libpaste(3)$' "$lp" | cut -d: -f1)
second=$(grep -n '^pasted(8)$' "$lp" | cut -d: -f1)
rst_page "$lp" $((first + 2)) $((second - 1)) libpaste 3 \
	"durable network data in persistent memory, by reference"
rst_page "$lp" $((second + 2)) '$' pasted 8 "a durable HTTP/1.1 key-value server on PASTE"
api=$repo/Documentation/networking/paste.rst
top=$(grep -n '^Overview$' "$api" | head -1 | cut -d: -f1)
rst_page "$api" "$top" '$' paste 7 "TCP receive into named persistent-memory buffers"

# One page per documented function: kernel-doc's, in section 3.
grep -oE '^(/\*\*| \*) paste_[a-z0-9_]+\(\) -' "$header" | grep -oE 'paste_[a-z0-9_]+' |
while read -r f; do
	# A parameter without its description is an error, not a warning.
	perl "$ksrc/scripts/kernel-doc" -man -function "$f" "$header" \
		> "$out/$f.kdoc" 2> "$out/$f.err"
	if [ -s "$out/$f.err" ]; then
		cat "$out/$f.err" >&2
		exit 1
	fi
	sed -e "1s/.*/.TH \"$f\" 3 \"$date\" \"libpaste\" \"libpaste Manual\"/" \
	    -e '/^\.SH SYNOPSIS$/a .B #include <libpaste.h>\n.sp' "$out/$f.kdoc" > "$out/$f.3"
	rm "$out/$f.kdoc" "$out/$f.err"
	printf '.SH "SEE ALSO"\n.BR libpaste (3),\n.BR paste (7)\n' >> "$out/$f.3"
done

mandoc -T lint -W warning "$out"/*.[378]
echo "  MAN     $out ($(ls "$out" | wc -l) pages)"
