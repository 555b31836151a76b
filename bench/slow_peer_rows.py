"""The elementwise rows of a `fastact bench --json` report, split by whether a peer of 10-50 ms
shared their round-robin rounds (slower calls are timed alone, outside the rounds).

    python bench/slow_peer_rows.py REPORT.json [size=1e7] [dtype=float32] [max_ms=6]

Rows whose Numba time is at most ``max_ms`` (the memory-bound ones at 1e7 float32): each
backend's time and the in-row copy's (``roofline_s``) over PyTorch's, and the medians of
both groups.  Before the round order rotated (docs/tuning.md, "The float32 1e7 rows after a
slow peer"), the copy and Numba were sampled right after such a peer.
"""
import json
import statistics
import sys


def rows(report, size, dtype):
    by_row = {}
    for r in report["results"]:
        if r["kind"] == "elementwise" and r["size"] == size and r["dtype"] == dtype and r["time_s"]:
            by_row.setdefault(r["function"], {})[r["impl"]] = r
    return {f: impls for f, impls in by_row.items()
            if all(k in impls for k in ("numba", "cython", "torch"))}


def main(path, size="1e7", dtype="float32", max_ms="6"):
    report = json.load(open(path))
    groups = {False: [], True: []}
    for f, impls in sorted(rows(report, int(float(size)), dtype).items()):
        if impls["numba"]["time_s"] > float(max_ms) * 1e-3:
            continue
        peers = [r["time_s"] for k, r in impls.items() if r["impl_kind"] == "peer"
                 and k != "torch" and 0.01 <= r["time_s"] < report["meta"]["settings"]["policy"]["slow_call"]]
        torch = impls["torch"]["time_s"]
        ratios = tuple(impls[k]["time_s"] / torch for k in ("numba", "cython"))
        copy = impls["numba"].get("roofline_s") or float("nan")  # the in-row copy
        groups[bool(peers)].append((f, *ratios, copy / torch))
    for slow, members in groups.items():
        if not members:
            continue
        print(("a peer of 10-50 ms in the round" if slow else "no such peer")
              + f": {len(members)} rows, medians numba/torch "
              f"{statistics.median(m[1] for m in members):.2f}, cython/torch "
              f"{statistics.median(m[2] for m in members):.2f}, copy/torch "
              f"{statistics.median(m[3] for m in members):.2f}")
        for f, nb, cy, cp in sorted(members, key=lambda m: -m[1]):
            print(f"   {f:24s} numba {nb:.2f}  cython {cy:.2f}  copy {cp:.2f}")


if __name__ == "__main__":
    main(*sys.argv[1:])
