#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Medians, ratios and plots for make bench (reads DIR/results.csv and
DIR/insn.csv, writes DIR/table.txt and PNG figures)."""
import csv
import os
import shutil
import statistics
import subprocess
import sys

MODES = ["none", "fsync", "fdatasync", "memcpy", "readmmap", "paste"]
PERSISTING = MODES[1:]
METRICS = ("req_per_s", "lat_avg_us", "lat_p99_us", "user_copied_per_req",
           "kernel_copied_per_req", "resp_bytes_seen")


def load(path):
    global MODES, PERSISTING
    groups, msgs = {}, {}
    with open(path) as f:
        for r in csv.DictReader(f):
            key = (r["mode"], r["loop"], int(r["body"]), int(r["conns"]))
            groups.setdefault(key, []).append(r)
            msgs[int(r["body"])] = (int(r["req_bytes"]), int(r["resp_bytes"]))
    med = {key: {k: statistics.median(float(r[k]) for r in rows) for k in METRICS}
           for key, rows in groups.items()}
    # Extra variants (e.g. "paste+2048") after the standard modes.
    seen = {k[0] for k in med}
    MODES = [m for m in MODES if m in seen] + sorted(seen - set(MODES))
    PERSISTING = [m for m in MODES if m != "none"]
    return med, msgs


def load_insn(path):
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return {(r["mode"], r["loop"]): r for r in csv.DictReader(f)}


def load_events(path):
    if not os.path.exists(path):
        return {}
    ev = {}
    with open(path) as f:
        for r in csv.DictReader(f):
            ev.setdefault(r["event"], {})[(r["mode"], r["loop"])] = float(r["per_request"])
    return ev


def table(med, msgs, insn, events, out):
    lines = []
    loops = sorted({k[1] for k in med})
    bodies = sorted({k[2] for k in med})
    conns = sorted({k[3] for k in med})
    for loop in loops:
        for body in bodies:
            req, resp = msgs[body]
            lines.append(f"\n== {loop} loop, {req}-byte POST ({body}-byte body), "
                         f"{resp}-byte response ==")
            # The baseline: no persistence, or else paste with copying.
            ref = next((m for m in ("none", "paste@nic") if m in MODES),
                       MODES[0])
            lines.append(f"requests/s (ratio to {ref})")
            lines.append("conns " + "".join(f"{m:>18}" for m in MODES))
            for c in conns:
                base = med.get((ref, loop, body, c), {}).get("req_per_s", 0)
                row = f"{c:>5} "
                for m in MODES:
                    v = med.get((m, loop, body, c))
                    if not v:
                        row += f"{'-':>18}"
                        continue
                    ratio = v["req_per_s"] / base if base else 0
                    row += f"{v['req_per_s']:>10.0f} ({ratio:4.2f})"
                lines.append(row)
            lines.append("latency, mean / p99 (us)")
            for c in conns:
                row = f"{c:>5} "
                for m in MODES:
                    v = med.get((m, loop, body, c))
                    row += f"{'-':>18}" if not v else \
                        f"{v['lat_avg_us']:>8.0f} /{v['lat_p99_us']:>7.0f} "
                lines.append(row)
            c = 50 if 50 in conns else conns[-1]
            p = med.get(("paste", loop, body, c))
            if p:
                lines.append(f"paste / other modes at {c} connections: " + ", ".join(
                    f"{m} {p['req_per_s'] / med[(m, loop, body, c)]['req_per_s']:.2f}"
                    for m in MODES if m != "paste"
                    if med.get((m, loop, body, c), {}).get("req_per_s")))
            lines.append(f"bytes copied by the CPU per request at {c} connections "
                         "(user space + kernel), response bytes seen:")
            for m in MODES:
                v = med.get((m, loop, body, c))
                if v:
                    lines.append(f"  {m:<9} {v['user_copied_per_req']:7.0f} + "
                                 f"{v['kernel_copied_per_req']:6.0f}   "
                                 f"{v['resp_bytes_seen']:5.0f}")
    if insn:
        lines.append("\n== guest instructions per request (insncount plugin, "
                     "10 connections, 1156-byte POST) ==")
        lines.append("mode       " + "".join(f"{lp + ' server':>16}{lp + ' total':>14}"
                                            for lp in loops))
        for m in MODES:
            row = f"{m:<10} "
            for lp in loops:
                r = insn.get((m, lp))
                row += f"{'-':>16}{'-':>14}" if not r else \
                    f"{int(r['insn_per_req_vcpu0']):>16}{int(r['insn_per_req_total']):>14}"
            lines.append(row)
        if any("pmem_store_bytes_per_req" in r for r in insn.values()):
            lines.append("bytes guest instructions store into the NVDIMM per request "
                         "(payload, log, snapshot; the NIC's DMA is not counted):")
            for m in MODES:
                vals = [insn[(m, lp)].get("pmem_store_bytes_per_req") for lp in loops
                        if (m, lp) in insn]
                if vals:
                    lines.append(f"  {m:<9} " + " / ".join(f"{v:>7}" for v in vals))
        for lp in loops:
            best = min((m for m in PERSISTING if (m, lp) in insn),
                       key=lambda m: int(insn[(m, lp)]["insn_per_req_total"]),
                       default=None)
            if best:
                lines.append(f"fewest instructions per request among persisting "
                             f"modes ({lp}): {best}")
    if events:
        lines.append("\n== kernel function calls per request (same run; "
                     "epoll loop / io_uring loop) ==")
        lines.append(f"{'function':<28}" + "".join(f"{m:>14}" for m in MODES))
        for e in sorted(events):
            row = f"{e:<28}"
            for m in MODES:
                a = events[e].get((m, "epoll"))
                b = events[e].get((m, "uring"))
                row += f"{'-' if a is None else f'{a:.2f}':>7}/{'-' if b is None else f'{b:.2f}':<6}"
            lines.append(row)
    text = "\n".join(lines) + "\n"
    with open(os.path.join(out, "table.txt"), "w") as f:
        f.write(text)
    print(text)


def gnuplot(cmds):
    subprocess.run(["gnuplot"], input="\n".join(cmds), text=True, check=True)


def plots(med, msgs, out):
    if not shutil.which("gnuplot"):
        print("report: gnuplot not installed, no plots")
        return
    loops = sorted({k[1] for k in med})
    bodies = sorted({k[2] for k in med})
    conns = sorted({k[3] for k in med})
    for loop in loops:
        for body in bodies:
            req, resp = msgs[body]
            dat = os.path.join(out, f"series-{loop}-{req}.dat")
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
                series = ", ".join(
                    f"'{dat}' using 1:{2 + 2 * i + col} with linespoints title '{m}'"
                    for i, m in enumerate(MODES))
                gnuplot(["set terminal png size 900,560",
                         f"set output '{out}/{kind}-{loop}-{req}.png'",
                         f"set title '{kind}: {req}-byte POST, {resp}-byte response, {loop} loop'",
                         "set xlabel 'connections'", f"set ylabel '{ylabel}'",
                         "set logscale x", "set key outside", "plot " + series])
    # Single-connection latency, in the style of the paper's Table 1.
    c1 = conns[0]
    for body in bodies:
        req, resp = msgs[body]
        bars = os.path.join(out, f"latency1-{req}.dat")
        with open(bars, "w") as f:
            f.write("# mode " + " ".join(loops) + "\n")
            for m in MODES:
                f.write(m + " " + " ".join(
                    f"{med.get((m, lp, body, c1), {}).get('lat_avg_us', 0):.1f}"
                    for lp in loops) + "\n")
        series = ", ".join(f"'{bars}' using {2 + i}:xtic(1) title '{lp}'"
                           for i, lp in enumerate(loops))
        gnuplot(["set terminal png size 800,480",
                 f"set output '{out}/latency1-{req}.png'",
                 f"set title 'mean latency, {c1} connection, {req}-byte POST, {resp}-byte response'",
                 "set ylabel 'us'", "set style data histograms",
                 "set style fill solid", "set boxwidth 0.8", "plot " + series])
    print(f"report: plots in {out}")


def main():
    out = sys.argv[1]
    med, msgs = load(os.path.join(out, "results.csv"))
    if not med:
        sys.exit("report: no results")
    table(med, msgs, load_insn(os.path.join(out, "insn.csv")),
          load_events(os.path.join(out, "events.csv")), out)
    plots(med, msgs, out)


if __name__ == "__main__":
    main()
