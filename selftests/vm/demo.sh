#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Guest side of "make run": the PASTE kernel with fsdax pmem, then pasted in
# paste mode on port 8080, with eth0's receive queue bound to its region
# (zero copy), while the host drives wrk at it through QEMU's port forward.
# The host ends the demo by POSTing /demo-done.
counter() { awk -v k="$1" '$1 == k { print $2 }' /proc/net/paste; }
echo "paste-demo: kernel $(uname -r), $(grep -c ^processor /proc/cpuinfo) vCPUs"
grep ' /mnt/pmem ' /proc/mounts | sed 's/^/paste-demo: mount: /'
/paste/bin/paste_demo /mnt/pmem 5 4 1156 | sed 's/^paste_demo:/paste-demo: in-guest loopback:/'

rm -rf /mnt/pmem/pasted && mkdir -p /mnt/pmem/pasted
copied0=$(counter PasteBytesCopied) zc0=$(counter PasteBytesZeroCopy)
/paste/bin/pasted -m paste -l epoll -p 8080 -d /mnt/pmem/pasted -r 64 \
	--zero-copy eth0 > /tmp/pasted.log 2>&1 &
pid=$!
i=0
until wget -q -O /dev/null http://127.0.0.1:8080/demo-done 2>/dev/null ||
      [ $i -ge 600 ]; do
	[ $i -eq 5 ] && echo "paste-demo: pasted ready: $(head -1 /tmp/pasted.log)"
	sleep 1
	i=$((i + 1))
done
kill -TERM $pid
wait $pid
sed 's/^/paste-demo: /' /tmp/pasted.log
echo "paste-demo: pasted received $(($(counter PasteBytesZeroCopy) - zc0)) bytes" \
	"in place (zero copy) and $(($(counter PasteBytesCopied) - copied0))" \
	"bytes copied by the CPU"
echo "paste-demo: /proc/net/paste:"
sed 's/^/paste-demo:   /' /proc/net/paste
