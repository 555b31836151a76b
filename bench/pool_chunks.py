"""Cache-resident elementwise calls on the Cython backend's pool, by chunks per thread.

    python bench/pool_chunks.py [size=1e5] [rounds=9]

Each round times relu, identity, sigmoid (forward) and relu's backward on float32 arrays of
`size` elements (2 threads, out= preallocated, x ~ N(0, 3^2)) with 1, 2 and 8 chunks per
thread (`_set_chunks_per_thread`; 8 is the default), 200 calls back to back after 30, and
PyTorch's kernels on the same arrays; prints the median over rounds of each median, in us.
docs/tuning.md, "The work pool's parts: the caller from the front, helpers from the back".
"""
import sys
import time

import numpy as np
import torch  # first: its libgomp keeps PyTorch's own wait policy

import fastact


def median_us(fn):
    """Median microseconds of 200 calls of fn back to back, after 30."""
    for _ in range(30):
        fn()
    ts = []
    for _ in range(200):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts)) * 1e6


def main():
    torch.set_num_threads(2)
    fastact.set_num_threads(2)
    n = int(float(sys.argv[1])) if len(sys.argv) > 1 else 10**5
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 9
    x = (np.random.default_rng(0).standard_normal(n) * 3).astype(np.float32)
    out, g = np.empty_like(x), np.ones_like(x)
    tx, to, tg = torch.from_numpy(x), torch.from_numpy(out), torch.from_numpy(g)
    fastact.relu(x, out=out, backend="cython")
    kernels = sys.modules["fastact._kernels"]
    CASES = {
        "relu": (lambda: fastact.relu(x, out=out, backend="cython"),
                 lambda: torch.clamp_min(tx, 0, out=to)),
        "identity": (lambda: fastact.identity(x, out=out, backend="cython"), lambda: to.copy_(tx)),
        "sigmoid": (lambda: fastact.sigmoid(x, out=out, backend="cython"),
                    lambda: torch.sigmoid(tx, out=to)),
        "relu_backward": (lambda: fastact.backward("relu", g, x, out=out, backend="cython"),
                          lambda: torch.ops.aten.threshold_backward.grad_input(tg, tx, 0,
                                                                               grad_input=to)),
    }


    res = {}
    for _ in range(rounds):
        for chunks in (1, 2, 8):
            kernels._set_chunks_per_thread(chunks)
            for name, (fa, _) in CASES.items():
                res.setdefault((name, chunks), []).append(median_us(fa))
        kernels._set_chunks_per_thread(8)
        for name, (_, peer) in CASES.items():
            res.setdefault((name, "torch"), []).append(median_us(peer))
    for name in CASES:
        cells = {k[1]: round(float(np.median(v)), 1) for k, v in res.items() if k[0] == name}
        print(f"{name} {n:.0e}: chunks per thread 1 / 2 / 8: {cells[1]} / {cells[2]} / {cells[8]} us;"
              f" torch {cells['torch']} us")


if __name__ == "__main__":
    main()
