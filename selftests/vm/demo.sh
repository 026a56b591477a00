#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The guest side of "make run": show the PASTE kernel with pmem mounted, and
# a region attached to a socket, with its counters.
echo "paste-demo: kernel $(uname -r)"
grep -E 'pmem|dax' /proc/mounts | sed 's/^/paste-demo: mount: /'
echo "paste-demo: $(dmesg | grep -m1 -i 'pmem0' || true)"
if [ -x /paste/bin/pasted ]; then
	/paste/demo-server.sh
else
	/paste/bin/paste_demo /mnt/pmem 10 4 1156
fi
echo "paste-demo: /proc/net/paste:"
sed 's/^/paste-demo:   /' /proc/net/paste
