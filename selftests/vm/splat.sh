# SPDX-License-Identifier: GPL-2.0
# Sourced by the VM runners: what counts as a kernel splat in a console log
# (WARN, BUG, oops, KASAN, lockdep, atomic sleep, kmemleak, RCU stalls,
# panics, a NIC without an interrupt or a stuck TX queue, ACPI interpreter
# errors), and a helper that reports one.
SPLAT='WARNING:|BUG:|Oops|general protection|KASAN|UBSAN|possible recursive locking|possible circular locking|inconsistent lock state|lock held when returning|suspicious RCU usage|sleeping function called|scheduling while atomic|kmemleak: [0-9]+ new suspected|kmemleak found|rcu_sched self-detected|Kernel panic|Call Trace:|NETDEV WATCHDOG|no GSI|ACPI Error'

# splat_in LOG: print the splat and return 0 if LOG has one.
splat_in() {
	tr -d '\r' < "$1" | grep -Eq "$SPLAT" || return 1
	echo "# kernel splat in $1:"
	tr -d '\r' < "$1" | grep -En -A3 "$SPLAT" | head -40 | sed 's/^/#   /'
	return 0
}

# early_panic LOG: return 0 if the kernel panicked before /init printed its
# first line. No PASTE code has run then and no image was touched, so the
# runners boot again once (6.12 under TCG can take a legacy interrupt in
# the middle of IO-APIC set-up: once in the 75 boots of one make check);
# the panic is still reported.
early_panic() {
	tr -d '\r' < "$1" | grep -q 'Kernel panic' || return 1
	! tr -d '\r' < "$1" | grep -q '^paste-vm: /init started' || return 1
	echo "# early boot panic in $1, before /init; booting again:"
	tr -d '\r' < "$1" | grep -m1 'RIP: ' | sed 's/^/#   /'
	tr -d '\r' < "$1" | grep -m1 'Kernel panic' | sed 's/^/#   /'
	cp "$1" "$1.early-panic"
	return 0
}
