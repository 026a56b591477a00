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
