"""Benchmark rows, one thread, CPU time per element (time.thread_time) against PyTorch's.

    python bench/row_thread_time.py ROWS [n=1e5] [dtypes=float32,float64] [rounds=15]

ROWS: comma-separated `fastact bench` case names or patterns (logsigmoid_backward,
hardtanh_backward, elu_backward_y, *_backward_y).  Each row runs the bench's own calls on
the bench's inputs (fastact._bench.cases: x ~ N(0, 3^2), out= preallocated): numba and
cython through fastact's API and PyTorch's peer (torch.ops.aten ... out=), with
fastact.set_num_threads(1) and torch.set_num_threads(1), interleaved in one process; each
round times 3 calls of every contender in turn, the start rotating.  Printed: PyTorch's ns
per element and each backend's time / PyTorch's (median over the rounds, and the
quartiles).  Against another build: PYTHONPATH=<its checkout> python ...
"""
import sys
import time

import numpy as np
import torch

import fastact
from fastact._bench import cases

BACKENDS = ("numba", "cython")


def _contenders(case, dtype, n, pool):
    bufs = case.make_buffers(dtype, n, pool)
    calls = {b: case.fastact_call(b, bufs) for b in BACKENDS}
    torch_peer = next(p for p in case.peers if p.library == "torch")
    calls["torch"], _ = torch_peer.make(bufs, False)
    return calls


def _rounds(calls, rounds):
    names = list(calls)
    times = {k: [] for k in names}
    for f in calls.values():
        f(), f()
    for r in range(rounds):
        for k in names[r % len(names):] + names[:r % len(names)]:
            f = calls[k]
            t = time.thread_time()
            f(), f(), f()
            times[k].append((time.thread_time() - t) / 3)
    return {k: np.array(v) for k, v in times.items()}


def main(rows, n="1e5", dtypes="float32,float64", rounds="15"):
    torch.set_num_threads(1)
    fastact.set_num_threads(1)
    n, pool = int(float(n)), cases.InputPool()
    selected = [c for c in cases.select(rows.split(","))
                if c.kind == "elementwise" and any(p.library == "torch" for p in c.peers)]
    for dtype in dtypes.split(","):
        for case in selected:
            t = _rounds(_contenders(case, dtype, n, pool), int(rounds))
            ref = np.median(t["torch"])
            cells = []
            for b in BACKENDS:
                q1, med, q3 = np.percentile(t[b] / ref, (25, 50, 75))
                cells.append(f"{b} {med:.3f} [{q1:.2f}-{q3:.2f}]")
            print(f"{case.name:24s} {dtype} n={n:.0e} torch {ref / n * 1e9:6.3f} ns/el  "
                  + "  ".join(cells), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
