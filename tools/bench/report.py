#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Medians, ratios and plots for make bench (reads DIR/results.csv)."""
import csv
import os
import shutil
import statistics
import subprocess
import sys

MODES = ["none", "fsync", "fdatasync", "memcpy", "readmmap", "paste"]


def load(path):
    groups = {}
    with open(path) as f:
        for r in csv.DictReader(f):
            key = (r["mode"], r["loop"], int(r["body"]), int(r["conns"]))
            groups.setdefault(key, []).append(r)
    med = {}
    for key, rows in groups.items():
        med[key] = {k: statistics.median(float(r[k]) for r in rows)
                    for k in ("req_per_s", "lat_avg_us", "lat_p99_us",
                              "user_copied_per_req", "kernel_copied_per_req")}
    return med


def table(med, out):
    lines = []
    loops = sorted({k[1] for k in med})
    bodies = sorted({k[2] for k in med})
    conns = sorted({k[3] for k in med})
    for loop in loops:
        for body in bodies:
            lines.append(f"\n== loop {loop}, {body}-byte body: req/s (ratio to none) ==")
            lines.append("conns " + "".join(f"{m:>20}" for m in MODES))
            for c in conns:
                base = med.get(("none", loop, body, c), {}).get("req_per_s", 0)
                row = f"{c:>5} "
                for m in MODES:
                    v = med.get((m, loop, body, c))
                    if not v:
                        row += f"{'-':>20}"
                        continue
                    ratio = v["req_per_s"] / base if base else 0
                    row += f"{v['req_per_s']:>12.0f} ({ratio:4.2f})"
                lines.append(row)
            lines.append("latency mean/p99 us at each connection count:")
            for c in conns:
                row = f"{c:>5} "
                for m in MODES:
                    v = med.get((m, loop, body, c))
                    row += f"{'-':>20}" if not v else \
                        f"{v['lat_avg_us']:>9.0f}/{v['lat_p99_us']:<10.0f}"
                lines.append(row)
            c = 50 if 50 in conns else conns[-1]
            p = med.get(("paste", loop, body, c))
            if p:
                lines.append(f"paste vs others at {c} connections:")
                for m in MODES:
                    v = med.get((m, loop, body, c))
                    if v and v["req_per_s"]:
                        lines.append(f"  paste / {m:<9} = {p['req_per_s'] / v['req_per_s']:.2f}")
            lines.append("bytes copied per request (user space / kernel):")
            for m in MODES:
                v = med.get((m, loop, body, c))
                if v:
                    lines.append(f"  {m:<9} {v['user_copied_per_req']:8.1f} / {v['kernel_copied_per_req']:8.1f}")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(out, "table.txt"), "w") as f:
        f.write(text)
    print(text)


def plots(med, out):
    if not shutil.which("gnuplot"):
        print("report: gnuplot not installed, no plots")
        return
    loops = sorted({k[1] for k in med})
    body = max({k[2] for k in med})
    conns = sorted({k[3] for k in med})
    for loop in loops:
        dat = os.path.join(out, f"series-{loop}.dat")
        with open(dat, "w") as f:
            f.write("# conns " + " ".join(f"{m}_rps {m}_lat" for m in MODES) + "\n")
            for c in conns:
                vals = []
                for m in MODES:
                    v = med.get((m, loop, body, c), {"req_per_s": 0, "lat_avg_us": 0})
                    vals += [v["req_per_s"], v["lat_avg_us"]]
                f.write(f"{c} " + " ".join(f"{x:.1f}" for x in vals) + "\n")
        for kind, col, ylabel in (("throughput", 0, "requests/s"),
                                  ("latency", 1, "mean latency (us)")):
            cmds = [f"set terminal png size 900,560",
                    f"set output '{out}/{kind}-{loop}.png'",
                    f"set title '{kind}, {body}-byte POST bodies, {loop} loop'",
                    "set xlabel 'connections'", f"set ylabel '{ylabel}'",
                    "set logscale x", "set key outside"]
            series = ", ".join(
                f"'{dat}' using 1:{2 + 2 * i + col} with linespoints title '{m}'"
                for i, m in enumerate(MODES))
            cmds.append("plot " + series)
            subprocess.run(["gnuplot"], input="\n".join(cmds), text=True, check=True)
    # Single-connection latency, the paper's Table 1.
    c1 = conns[0]
    bars = os.path.join(out, "latency1.dat")
    with open(bars, "w") as f:
        for m in MODES:
            v = med.get((m, loops[0], body, c1))
            if v:
                f.write(f"{m} {v['lat_avg_us']:.1f}\n")
    subprocess.run(["gnuplot"], text=True, check=True, input="\n".join([
        "set terminal png size 800,480", f"set output '{out}/latency1.png'",
        f"set title 'mean latency, {c1} connection, {loops[0]} loop'",
        "set ylabel 'us'", "set style fill solid", "set boxwidth 0.6",
        f"plot '{bars}' using 0:2:xtic(1) with boxes notitle"]))
    print(f"report: plots in {out}")


def main():
    out = sys.argv[1]
    med = load(os.path.join(out, "results.csv"))
    if not med:
        sys.exit("report: no results")
    table(med, out)
    plots(med, out)


if __name__ == "__main__":
    main()
