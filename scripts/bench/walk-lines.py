"""The data of the Graphite benchmarks (bench-graphite-web.sh, bench-carbonapi.sh), as carbon
plaintext on stdout: a random walk per series (two decimals, one point a minute, seed 42) and
the find names with one point each.

Usage: walk-lines.py SERIES POINTS START FIND_NAMES NOW
"""
import random
import sys

n, points, start, names, now = map(int, sys.argv[1:])
random.seed(42)
out = sys.stdout
for s in range(n):
    v = random.uniform(10, 90)
    for i in range(points):
        v = min(100.0, max(0.0, v + random.uniform(-1, 1)))
        out.write(f"bench.h{s // 10:02d}.m{s % 10:02d} {v:.2f} {start + i * 60}\n")
for i in range(names):
    out.write(f"find.h{i // 1000:03d}.m{i % 1000:03d} 1 {now - 120}\n")
