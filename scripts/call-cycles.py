#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Find circles of C files that call each other (through functions that are
not static), in one directory: a layering check for tools/pasted, where
each file has one concern and calls only the files below it. Calls through
ops tables (function pointers) are not edges. Prints the edges and any
cycle; exits 1 if there is one.
Usage: call-cycles.py DIR"""
import glob
import os
import re
import sys


def strip(src):
    src = re.sub(r'/\*.*?\*/', '', src, flags=re.S)
    src = re.sub(r'//[^\n]*', '', src)
    return re.sub(r'"(\\.|[^"\\])*"', '""', src)


def main(d):
    files = sorted(glob.glob(os.path.join(d, '*.c')))
    text = {f: strip(open(f).read()) for f in files}
    defined = {}
    for f, src in text.items():
        for m in re.finditer(r'^(?!static\b)[A-Za-z_][\w \t\*]*?\b(\w+)\(',
                             src, re.M):
            defined.setdefault(m.group(1), f)
    edges = {f: set() for f in files}
    for f, src in text.items():
        for name, g in defined.items():
            if g != f and re.search(r'\b%s\s*\(' % name, src):
                edges[f].add(g)
    cycles = set()

    def walk(node, path):
        for nxt in edges[node]:
            if nxt in path:
                cycles.add(tuple(sorted(set(path[path.index(nxt):]))))
            else:
                walk(nxt, path + [nxt])

    for f in files:
        walk(f, [f])
    for f in files:
        print('# %s -> %s' % (os.path.basename(f),
              ' '.join(sorted(os.path.basename(g) for g in edges[f]))))
    for c in sorted(cycles):
        print('# cycle: ' + ' '.join(os.path.basename(f) for f in c))
    return 1 if cycles else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1]))
