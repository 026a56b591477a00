#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Table and figure for make bench-redis: reads DIR/results.csv and
DIR/insn.csv, writes DIR/table.txt and DIR/rps.png (with gnuplot)."""
import csv
import os
import shutil
import statistics
import subprocess
import sys

MODES = ["off", "no", "everysec", "always", "paste", "paste-zc"]


def load(path):
    groups = {}
    with open(path) as f:
        for r in csv.DictReader(f):
            key = (r["mode"], int(r["conns"]), int(r["pipeline"]), r["test"])
            groups.setdefault(key, []).append(r)
    med = {}
    for key, rows in groups.items():
        med[key] = {k: statistics.median(float(r[k]) for r in rows)
                    for k in ("rps", "kernel_copied_per_req",
                              "log_copied_per_req", "aof_bytes_per_req")}
        med[key]["rewrites"] = max(int(r["rewrites"]) for r in rows)
    return med


def load_insn(path):
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return {(r["mode"], int(r["conns"]), int(r["pipeline"])): r
                for r in csv.DictReader(f)}


def ratio(a, b):
    return f"{a / b:.2f}x" if b else "-"


def table(med, insn):
    modes = [m for m in MODES if any(k[0] == m for k in med)]
    points = sorted({(k[1], k[2]) for k in med})
    lines = []
    for c, p in points:
        lines.append(f"\n== redis-benchmark -c {c} -P {p}, 1 KiB values, "
                     "across the NIC pair")
        lines.append(f"{'mode':10} {'SET/s':>9} {'vs off':>7} {'vs always':>9} "
                     f"{'GET/s':>9} {'vs off':>7} {'kcopy/SET':>9} "
                     f"{'logcopy/SET':>11} {'insn/SET':>9} {'vs off':>7} "
                     f"{'pmem B/SET':>10} {'rewrites':>8}")
        for m in modes:
            s = med.get((m, c, p, "set"))
            g = med.get((m, c, p, "get"))
            if not s:
                continue
            off_s = med.get(("off", c, p, "set"), {}).get("rps", 0)
            alw_s = med.get(("always", c, p, "set"), {}).get("rps", 0)
            off_g = med.get(("off", c, p, "get"), {}).get("rps", 0)
            i = insn.get((m, c, p))
            io = insn.get(("off", c, p))
            ins = int(i["insn_per_set_vcpu0"]) if i else 0
            ins_off = int(io["insn_per_set_vcpu0"]) if io else 0
            pm = i["pmem_store_bytes_per_set"] if i else "-"
            lines.append(
                f"{m:10} {s['rps']:9.0f} {ratio(s['rps'], off_s):>7} "
                f"{ratio(s['rps'], alw_s):>9} {g['rps'] if g else 0:9.0f} "
                f"{ratio(g['rps'], off_g) if g else '-':>7} "
                f"{s['kernel_copied_per_req']:9.1f} {s['log_copied_per_req']:11.1f} "
                f"{ins if i else '-':>9} {ratio(ins, ins_off) if i else '-':>7} "
                f"{pm:>10} {int(s['rewrites']):8}")
    lines.append("\nkcopy/SET: bytes the kernel copied into the PASTE region per "
                 "request (PasteBytesCopied); logcopy/SET: bytes Redis copied "
                 "into its log area; insn/SET: guest instructions on the "
                 "server's vCPU per SET (QEMU insncount plugin), the figure "
                 "TCG does not blur; pmem B/SET: guest stores into the NVDIMM "
                 "per SET, both vCPUs; rewrites: AOF rewrites during the run "
                 "(0: none measured).")
    return "\n".join(lines) + "\n"


def plot(med, out):
    if not shutil.which("gnuplot"):
        return
    modes = [m for m in MODES if any(k[0] == m for k in med)]
    points = sorted({(k[1], k[2]) for k in med})
    dat = os.path.join(out, "rps.dat")
    with open(dat, "w") as f:
        f.write("mode " + " ".join(f"c{c}P{p}" for c, p in points) + "\n")
        for m in modes:
            f.write(m + " " + " ".join(
                str(med.get((m, c, p, "set"), {}).get("rps", 0)) for c, p in points) + "\n")
    cols = ", ".join(f"'{dat}' using {i + 2}:xtic(1) title columnhead"
                     for i in range(len(points)))
    script = f"""set terminal png size 900,500
set output '{os.path.join(out, "rps.png")}'
set style data histograms
set style fill solid 0.8
set ylabel 'SET/s'
set title 'redis-benchmark SET, 1 KiB values (TCG guest)'
set key top left
plot {cols}
"""
    subprocess.run(["gnuplot"], input=script.encode(), check=False)


def main():
    out = sys.argv[1]
    med = load(os.path.join(out, "results.csv"))
    insn = load_insn(os.path.join(out, "insn.csv"))
    text = table(med, insn)
    with open(os.path.join(out, "table.txt"), "w") as f:
        f.write(text)
    print(text)
    plot(med, out)


if __name__ == "__main__":
    main()
