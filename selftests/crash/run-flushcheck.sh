#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The flush-ordering checker. For each variant, boot once under QEMU 10
# with the flushcheck plugin while crashload drives pasted on loopback and
# marks crash points; the plugin writes, at chosen points, an image with
# every non-durable store dropped and one with a random half of them kept.
# Marks inside pasted's checkpoints (its checker builds, pasted-marks and
# pasted-bugN) write images there too. Then boot each image (normal QEMU)
# and let pasted recover: the keys must hold what the acknowledged
# requests, and a prefix of the unanswered ones, left.
#
#   pasted              libpaste flushes payloads and WAL entries
#   pasted-kflush       the kernel places payloads durably
#                       (PASTE_REGION_DURABLE), libpaste flushes entries
#   pasted-uring        as pasted, on the io_uring event loop
#   pasted-zc           as pasted, but crashload's requests cross the hub
#                       NIC pair and the device writes them into the
#                       region (zero copy): bytes no CPU stored, which the
#                       model keeps out of the media until written back
#   pasted-ckptfail     as pasted, but the first four checkpoints fail
#                       (fsync EIO): writes are refused with 503 while the
#                       log is full, and none of them may be applied
#   pasted-bug1         seeded bug: no fence after the WAL entries
#   pasted-bug2         seeded bug: WAL entries never written back
#   pasted-bug3-zc      seeded bug: payloads never written back, zero copy
#   pasted-bug4         seeded bug: a checkpoint clears the WAL before it
#                       moves to the next epoch (images at that point)
#   pasted-bug5         seeded bug: answers are sent before the group
#                       commit, which runs once a second
#   redis               Redis on PASTE (appendfsync paste), crashload
#                       speaking RESP; its log is small, so rewrites run
#                       in the trace
#   redis-zc            as redis, with zero copy across the NIC pair
#   redis-bug1          seeded bug: Redis replies before the group commit,
#                       which runs once a second
#
# Each trace starts with an untraced run that ends in SIGKILL, so the traced
# server starts by recovering; crashload's load is hostile (pipelined,
# odd segments, stray CRLFs, closes) over 6 overwritten keys per
# connection, and the WAL is small, so checkpoints run in the trace.
# The first four must show no violation; each seeded bug must be caught.
# Usage: run-flushcheck.sh BUILD FLAVOUR POINTS [VARIANT...]
# Environment: SEED (default random, printed); KEEP_IMAGES=1 keeps the
# crash images in BUILD/flushcheck for inspection (debugfs icheck/ncheck).
set -u
build=$1 flavour=$2 points=$3
shift 3
variants=${*:-pasted pasted-kflush pasted-uring pasted-zc pasted-ckptfail pasted-bug1 pasted-bug2 pasted-bug3-zc pasted-bug4 pasted-bug5 redis redis-zc redis-bug1}
here=$(cd "$(dirname "$0")" && pwd)
vm=$here/../vm
. "$vm/splat.sh"
. "$here/serve-vm.sh"
kernel=$build/obj-$flavour/arch/x86/boot/bzImage
initrd=$build/initramfs.cpio
load=$build/crash/crashload
out=$build/flushcheck
logs=$build/logs
q10=$build/qemu10
size_mib=128
export PMEM_SIZE=${size_mib}M	# every boot here: prep, trace, verify
base=0x100000000	# where QEMU's q35 machine puts the first NVDIMM (1 GiB of RAM)
mkdir -p "$out" "$logs"
rm -f "$out"/*.img "$out"/*.state

seed=${SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
echo "# flushcheck: $points crash points per variant ($variants), $flavour kernel, SEED=$seed"
port=$((30000 + seed % 9000))	# above crashtest's, which may run alongside

# A formatted image every variant starts from.
VM_TIMEOUT=600 "$vm/qemu.sh" "$kernel" "$initrd" \
	"$out/base.img" "$logs/flushcheck-prep.log" "paste.run=none" > /dev/null 2>&1
grep -aq '^paste-vm: done' "$logs/flushcheck-prep.log" ||
	{ echo "# could not prepare the pmem image; see $logs/flushcheck-prep.log"; exit 1; }

pass=0 fail=0 n=0 explored=0

# verify_image IMG STATE KFLUSH LOG: boot IMG, recover, check STATE.
# Prints crashload's verdict; returns 0 only if nothing was lost.
verify_image() {
	# qemu.sh would make a blank image: a missing one is a harness error.
	[ -f "$1" ] || { echo "no crash image $1"; return 1; }
	ok=1
	serve_boot "$kernel" "$initrd" "$1" "$4" \
		"paste.mode=$smode paste.loop=epoll paste.kflush=$3" || ok=0
	[ $ok = 1 ] && { "$load" verify $resp -p $port -o "$2" -c 1 2>&1 || ok=0; }
	serve_stop
	splat_in "$4" && ok=0
	[ $ok = 1 ]
}

# record P: crashload's record at its crash point P (or, past the last
# one, at the end of its load), then the untraced run's, one connection
# a line; an incomplete record fails the variant, lest it check less.
record() {
	if grep -aq "^CRASHPOINT $1 " "$tlog.txt"; then
		grep -a "^CRASHPOINT $1 " "$tlog.txt" | head -1 | tr ' ' '\n' |
			tail -n +3 | tr ':' ' '
	else
		grep -a '^paste-crash: final ' "$tlog.txt" | sed 's/^paste-crash: final //'
	fi > "$out/record.tmp"
	[ "$(awk '$1 == 1 && NF == 8' "$out/record.tmp" | wc -l)" = $conns ] ||
		why="${why:-no complete record for crash point $1}"
	cat "$out/record.tmp"
	grep -a '^paste-crash: record ' "$tlog.txt" | sed 's/^paste-crash: record //'
}

# check_image NAME: boot NAME.img, NAME-r.img and (checkpoints) NAME-t.img,
# recover, check NAME.state.
check_image() {
	for kind in "" -r -t; do
		[ "$kind" = -t ] && [ ! -f "$out/$1-t.img" ] && continue
		res=$(verify_image "$out/$1$kind.img" "$out/$1.state" $kflush \
			"$logs/flushcheck-$variant-$1$kind.log")
		rc=$?
		checked=$((checked + 1))
		[ $rc = 0 ] || violations=$((violations + 1))
		echo "#   $1${kind:-  }: $(echo "$res" | grep -E 'verified|failed' | head -1 |
			sed 's/^crashload: //')"
		echo "$res" | grep -E 'VIOLATION|^#   k' | head -8 | sed 's/^/#     /'
		[ -n "${KEEP_IMAGES:-}" ] || rm -f "$out/$1$kind.img"
	done
}

for variant in $variants; do
	for try in 1 2; do
		server=${variant%-zc} kflush=0 conns=4 expect=clean zc=0 loop=epoll
		ms=$((points * 1500))
		[ "$server" = "$variant" ] || zc=1
		case $server in
		pasted) server=pasted-marks ;;
		pasted-uring) server=pasted-marks loop=uring ;;
		pasted-kflush) server=pasted-marks kflush=1 ;;
		# 4 connections and a longer load: checkpoints inside the trace. pasted
		# compacts over-segmented requests, so they fill the WAL more slowly.
		pasted-bug4) expect=caught ms=$((points * 5000)) ;;
		pasted-bug*) conns=1 expect=caught ;;
		redis-bug*) conns=1 expect=caught ;;
		esac
		initrd=$build/initramfs.cpio resp= smode=paste
		case $server in
		redis*) initrd=$build/initramfs-redis.cpio resp=--resp smode=redis ;;
		esac
		# Checkpoint images: at rotating marks; bug 4's window is at mark 2.
		ckpt="checkpoints=$(((points + 1) / 2))"
		[ "$variant" = pasted-bug4 ] && ckpt="checkpoints=$points,checkpoint-at=2"
		img=$out/trace.img
		cp "$out/base.img" "$img"
		tlog=$logs/flushcheck-$variant.log
		# Under the plugin; every other crash point is written, up to POINTS.
		QEMU=$q10/usr/bin/qemu-system-x86_64 QEMU_MODULE_DIR=$q10/usr/lib/x86_64-linux-gnu/qemu \
		VM_TIMEOUT=1800 "$vm/qemu.sh" "$kernel" "$initrd" "$img" "$tlog" \
			"paste.run=flushcheck paste.server=$server paste.kflush=$kflush paste.conns=$conns paste.ms=$ms paste.zc=$zc paste.loop=$loop nokaslr" \
			-nodefaults -L /usr/share/qemu \
			-netdev user,id=n0 -device virtio-net-pci,netdev=n0,romfile= \
			-netdev hubport,id=zc0,hubid=1 \
			-device virtio-net-pci,netdev=zc0,romfile=,mac=52:54:00:50:00:01 \
			-netdev hubport,id=zc1,hubid=1 \
			-device virtio-net-pci,netdev=zc1,romfile=,mac=52:54:00:50:00:02 \
			-plugin "$build/qemu-plugins/flushcheck.so,img=$img,base=$base,size=$((size_mib << 20)),out=$out,every=2,max=$points,$ckpt,seed=$seed" \
			-d plugin > /dev/null 2>&1
		rm -f "$img"
		tr -d '\r' < "$tlog" > "$tlog.txt"
		totals=$(grep -a 'flushcheck: totals' "$tlog.txt")
		echo "# $variant: ${totals#flushcheck: }"
		why=
		grep -aq "iomem $(printf '%x' $base)-" "$tlog.txt" || why="the NVDIMM is not at $base"
		echo "$totals" | grep -q 'unresolved:0 mismatches:0' || why="${why:-flushes the model could not place}"
		grep -aq '^paste-crash: trace done' "$tlog.txt" || why="${why:-the traced run did not finish}"
		[ $zc = 0 ] || grep -aq '^paste-crash: zero-copy bytes [1-9]' "$tlog.txt" ||
			why="${why:-no payload was placed by the device}"
		[ "$variant" != pasted-ckptfail ] ||
			grep -aq '^crashload: run 1: .* [1-9][0-9]* refused with 503' "$tlog.txt" ||
			why="${why:-no write was refused while checkpoints failed}"
		splat_in "$tlog.txt" && why="${why:-kernel splat in the traced run}"
		violations=0 checked=0 npoints=0
		for p in $(grep -a '^flushcheck: point [0-9]*: [0-9]* non-durable' "$tlog.txt" |
			   sed 's/^flushcheck: point \([0-9]*\):.*/\1/'); do
			record $p > "$out/point-$p.state"
			check_image point-$p
			npoints=$((npoints + 1))
		done
		# Inside a checkpoint: acknowledged as at crashload's point before it,
		# sent as at the one after it (or at the end of the load).
		for m in $(grep -a '^flushcheck: checkpoint [0-9]* (mark [0-9]) after point [0-9]*$' "$tlog.txt" |
			   awk '{ print $3 ":" $8 }'); do
			p=${m#*:}
			record "$p" > "$out/before.state"
			record $((p + 1)) > "$out/after.state"
			awk 'NR == FNR { acked[$1, $2] = $3; next }
				($1, $2) in acked { $3 = acked[$1, $2] } { print }' \
				"$out/before.state" "$out/after.state" > "$out/checkpoint-${m%:*}.state"
			check_image checkpoint-${m%:*}
		done
		explored=$((explored + checked))
		[ $checked -gt 0 ] || why="${why:-no crash point was written}"
		# A seeded bug shows at crashload's crash points; a trace whose load
		# ended before the first one was written proves nothing either way
		# (seen once: one point, odd, so not written). Trace it again, once,
		# with the next seed.
		if [ $expect = caught ] && [ $violations = 0 ] && [ $npoints = 0 ] &&
		   [ $try = 1 ] && [ -z "$why" ]; then
			seed=$((seed + 1))
			echo "# $variant: no crash point image; tracing again with SEED=$seed"
			continue
		fi
		n=$((n + 1))
		verdict="$checked crash images, $violations with lost or torn data"
		if [ -z "$why" ] && { { [ $expect = clean ] && [ $violations = 0 ]; } ||
				      { [ $expect = caught ] && [ $violations -gt 0 ]; }; }; then
			pass=$((pass + 1))
			echo "ok $n flushcheck $variant: $verdict (expected: $expect)"
		else
			fail=$((fail + 1))
			echo "not ok $n flushcheck $variant: $verdict (expected: $expect)${why:+; $why}"
		fi
		break
	done
done
rm -f "$out/base.img"
echo "# flushcheck: $explored crash images explored"
echo "flushcheck: $pass passed, $fail failed"
[ $fail -eq 0 ]
