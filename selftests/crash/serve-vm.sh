# SPDX-License-Identifier: GPL-2.0
# Sourced by the power-cut and flush-check runners: boot the VM serving
# pasted from a pmem image (paste.run=crash) behind a fresh port forward,
# and stop it again. Needs $vm, $out, $load and $port set by the caller.

# serve_boot KERNEL INITRD IMG LOG CMDLINE: start the VM in the background
# and wait until pasted answers; sets $qpid, $vmjob and $port. On failure
# prints what the guest said and returns 1.
#
# A kernel panic before /init started, or a boot that never reaches /init,
# is booted again, once (see early_panic in selftests/vm/splat.sh).
serve_boot() {
	serve_boot_once "$@"
	case $? in
	0)	return 0 ;;
	2)	;;			# hung before /init: boot again
	*)	early_panic "$4" || return 1 ;;
	esac
	serve_stop
	serve_boot_once "$@"
}

serve_boot_once() {
	rm -f "$out/qemu.pid"
	port=$((port + 1))
	"$vm/qemu.sh" "$1" "$2" "$3" "$4" "paste.run=crash $5" \
		-netdev user,id=n0,hostfwd=tcp:127.0.0.1:$port-:8080 \
		-device virtio-net-pci,netdev=n0,romfile= \
		-pidfile "$out/qemu.pid" > /dev/null 2>&1 &
	vmjob=$!
	i=0
	until [ -s "$out/qemu.pid" ]; do
		sleep 0.2
		i=$((i + 1))
		[ $i -lt 100 ] || { echo "# no QEMU pid"; return 1; }
	done
	qpid=$(cat "$out/qemu.pid")
	i=0
	until "$load" ready ${resp:-} -p $port -w 2 2>/dev/null; do
		i=$((i + 1))
		# A boot that has not reached /init in 90 s (seen once: the
		# debug kernel under TCG, CPU 1's timer silent from 9 s on)
		# ran no PASTE code: booted again once, and shown.
		if [ $i = 45 ] && ! tr -d '\r' < "$4" | grep -q '^paste-vm: /init started'; then
			echo "# the guest hung before /init; booting again:"
			tr -d '\r' < "$4" | grep -m2 -E 'rcu_sched|stall' | sed 's/^/#   /'
			cp "$4" "$4.early-hang"
			return 2
		fi
		if ! kill -0 "$qpid" 2>/dev/null || [ $i -ge 150 ]; then
			echo "# pasted did not come up; the guest said:"
			tr -d '\r' < "$4" | grep -E '^(paste-|pasted)|Kernel panic|RIP: ' |
				sed 's/^/#   /'
			return 1
		fi
	done
}

# serve_stop: SIGKILL QEMU (the power cut, if nothing cut it yet) and reap it.
serve_stop() {
	kill -9 "$qpid" 2>/dev/null
	wait $vmjob 2>/dev/null
}
