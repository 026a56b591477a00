#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# paste.run=crash: serve pasted from the pmem image until the power is cut.
# Every boot after the first recovers what the previous one left.
# Usage: crash-guest.sh MODE LOOP
mode=$1 loop=$2
dir=/mnt/pmem/crash
mkdir -p $dir
echo "paste-crash: pasted --mode $mode --loop $loop on $dir"
pasted --mode "$mode" --loop "$loop" --dir $dir --region 64 --port 8080
echo "paste-crash: pasted exited with status $?"
