"""Before/after table of `fastact bench --json` reports: for each (function, dtype, size) the
median over the reports of each implementation's median, and the fastest fastact backend over
PyTorch's time, before -> after.

    python bench/fused_rows_ab.py "before_*.json" "after_*.json"

docs/tuning.md, "Bias calls" (the fused rows).
"""
import glob
import json
import statistics
import sys


def cells(pattern):
    found = {}
    for path in sorted(glob.glob(pattern)):
        for r in json.load(open(path))["results"]:
            if r.get("time_s") is not None:
                key = (r["function"], r["dtype"], r["size"], r["impl"])
                found.setdefault(key, []).append(r["time_s"])
    return {k: statistics.median(v) for k, v in found.items()}


def shown(seconds):
    return f"{seconds * 1e6:.1f}" if seconds < 1e-3 else f"{seconds * 1e3:.2f} ms"


def main(before_pattern, after_pattern):
    before, after = cells(before_pattern), cells(after_pattern)
    print("| row | size | numba before -> after | cython before -> after | torch before / after "
          "| fastest/torch before -> after |")
    print("|---|---|---:|---:|---:|---:|")
    for f, dt, n in sorted({k[:3] for k in after}):
        got = [[d.get((f, dt, n, impl)) for impl in ("numba", "cython", "torch")]
               for d in (before, after)]
        if any(v is None for run in got for v in run):
            continue
        (nb, cb, tb), (na, ca, ta) = got
        print(f"| {f} {dt} | {n:.0e} | {shown(nb)} -> {shown(na)} | {shown(cb)} -> {shown(ca)} "
              f"| {shown(tb)} / {shown(ta)} | {min(nb, cb) / tb:.2f} -> {min(na, ca) / ta:.2f} |")


if __name__ == "__main__":
    main(*sys.argv[1:3])
