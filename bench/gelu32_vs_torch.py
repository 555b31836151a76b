"""float32 gelu forward against PyTorch, interleaved in one process (before/after builds).

    python bench/gelu32_vs_torch.py [rounds=21]
    PYTHONPATH=<other built checkout> python bench/gelu32_vs_torch.py [rounds]   # the other build

Inputs N(0, 3^2), `out=` preallocated.  Each round times fastact's cython and numba
backends and `torch.ops.aten.gelu.out` on the same arrays, in turn: one thread, 1e5
elements in cache (the best of 5 calls, ns per element), then two threads, 1e7 elements
(one call, ms).  Prints the medians over the rounds and the median of the per-round ratios
to PyTorch (a ratio taken within a round is less sensitive to the load drifting).
docs/tuning.md.
"""
import sys
import time

import numpy as np
import torch

import fastact as fa


def timed(f, calls):
    best = np.inf
    for _ in range(calls):
        t0 = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t0)
    return best


def case(n, threads, rounds, calls, scale, unit):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(n) * 3).astype(np.float32)
    o = np.empty_like(x)
    tx, to = torch.from_numpy(x), torch.from_numpy(o)
    runs = {"cython": lambda: fa.gelu(x, out=o, backend="cython"),
            "numba": lambda: fa.gelu(x, out=o, backend="numba"),
            "torch": lambda: torch.ops.aten.gelu.out(tx, out=to)}
    fa.set_num_threads(threads)
    torch.set_num_threads(threads)
    for f in runs.values():
        f()
    t = {k: [] for k in runs}
    for _ in range(rounds):
        for k, f in runs.items():
            t[k].append(timed(f, calls) * scale)
    med = {k: np.median(v) for k, v in t.items()}
    ratio = {k: np.median(np.array(t[k]) / np.array(t["torch"])) for k in ("cython", "numba")}
    print(f"n={n:.0e} threads={threads}: " + "  ".join(f"{k} {med[k]:.3f}" for k in runs)
          + f" {unit};  / torch: cython {ratio['cython']:.2f}x  numba {ratio['numba']:.2f}x",
          flush=True)


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 21
    print(fa.__file__)
    case(10**5, 1, rounds, 5, 1e9 / 10**5, "ns/element")
    case(10**7, 2, rounds, 1, 1e3, "ms")


if __name__ == "__main__":
    main()
