# SPDX-License-Identifier: GPL-2.0 OR MIT
# Sourced by the guest scripts that send load across a real NIC: the VM's
# two virtio-net NICs on one QEMU hub (the runners add them with MACs
# 52:54:00:50:00:01 and :02).

# nic_pair NS: keep the :01 NIC here as 10.78.0.1 and move the :02 NIC
# into network namespace NS as 10.78.0.2; wait until they reach each
# other. Sets $nic and $peer to their names.
nic_pair() {
	nic= peer=
	for d in /sys/class/net/*; do
		case $(cat "$d/address") in
		52:54:00:50:00:01) nic=${d##*/} ;;
		52:54:00:50:00:02) peer=${d##*/} ;;
		esac
	done
	[ -n "$nic" ] && [ -n "$peer" ] || return 1
	/sbin/ip netns add "$1" &&
	/sbin/ip link set "$peer" netns "$1" &&
	/sbin/ip -n "$1" link set lo up &&
	/sbin/ip -n "$1" addr add 10.78.0.2/24 dev "$peer" &&
	/sbin/ip -n "$1" link set "$peer" up &&
	/sbin/ip addr add 10.78.0.1/24 dev "$nic" &&
	/sbin/ip link set "$nic" up || return 1
	for i in $(seq 25); do
		/sbin/ip netns exec "$1" ping -c 1 -W 1 10.78.0.1 > /dev/null 2>&1 &&
			return 0
		sleep 0.2
	done
	return 1
}
