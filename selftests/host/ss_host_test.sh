#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Our ss (tools/iproute2) on a kernel without PASTE (the host's): it lists
# a TCP connection with -i as Debian's does, prints no PASTE state, and
# --paste lists nothing. KTAP.
# Usage: ss_host_test.sh BUILD
set -u
ss=$1/iproute2/bin/ss
echo "TAP version 13"
echo "1..2"
python3 - "$ss" <<'PY'
import socket, subprocess, sys
ss = sys.argv[1]
lsn = socket.socket(socket.AF_INET6)
lsn.bind(("::1", 0)); lsn.listen(1)
cli = socket.create_connection(("::1", lsn.getsockname()[1]))
srv, _ = lsn.accept()
port = ":%d" % srv.getsockname()[1]
r = subprocess.run([ss, "-tinH"], capture_output=True, text=True)
listed = any(l.split()[3].endswith(port) for l in r.stdout.splitlines()
             if len(l.split()) > 3)
ok = r.returncode == 0 and listed and "paste:(" not in r.stdout
bad = not ok
print(("ok" if ok else "not ok") + " 1 ss.lists_tcp_info_on_a_kernel_without_paste"
      + ("" if ok else ": exit %d, listed %s\n# %s" % (r.returncode, listed, r.stderr)))
r = subprocess.run([ss, "-tnH", "--paste"], capture_output=True, text=True)
ok = r.returncode == 0 and r.stdout.strip() == ""
bad = bad or not ok
print(("ok" if ok else "not ok") + " 2 ss.paste_lists_nothing_without_paste"
      + ("" if ok else ": exit %d, output %r" % (r.returncode, r.stdout[:200])))
sys.exit(1 if bad else 0)
PY
