"""The Numba backend's cache-resident elementwise calls: through the work pool's driver
(serial or parallel by the pool's thresholds), or (before) through Numba's own drivers (the
calling thread up to NUMBA_PARALLEL_MIN_BYTES_CHEAP, the threading layer above).

    python bench/numba_pool_threshold_ab.py [size=1e5] [rounds=9]

Interleaved in one process (`fastact._numba.WORK_POOL` set per variant, read at each call): relu, hardtanh, identity forward and relu, hardtanh backward (float32
and float64, 2 threads, out= preallocated, x ~ N(0, 3^2)), 200 calls back to back after 30,
and PyTorch's kernels on the same arrays; prints the median over rounds, in us.
docs/tuning.md, "The Numba backend's memory-bound calls on the pool".
"""
import sys

import numpy as np
import torch  # first: its libgomp keeps PyTorch's own wait policy

import fastact
from fastact import _numba
from pool_chunks import median_us

torch.set_num_threads(2)
fastact.set_num_threads(2)
n = int(float(sys.argv[1])) if len(sys.argv) > 1 else 10**5
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 9
VARIANTS = {"before": False, "after": True}


for dtype in ("float32", "float64"):
    x = (np.random.default_rng(0).standard_normal(n) * 3).astype(dtype)
    out, g = np.empty_like(x), np.ones_like(x)
    tx, to, tg = torch.from_numpy(x), torch.from_numpy(out), torch.from_numpy(g)
    cases = {
        "relu": (lambda: fastact.relu(x, out=out, backend="numba"),
                 lambda: torch.clamp_min(tx, 0, out=to)),
        "hardtanh": (lambda: fastact.hardtanh(x, out=out, backend="numba"),
                     lambda: torch.ops.aten.hardtanh.out(tx, -1, 1, out=to)),
        "identity": (lambda: fastact.identity(x, out=out, backend="numba"), lambda: to.copy_(tx)),
        "relu_backward": (lambda: fastact.backward("relu", g, x, out=out, backend="numba"),
                          lambda: torch.ops.aten.threshold_backward.grad_input(
                              tg, tx, 0, grad_input=to)),
        "hardtanh_backward": (lambda: fastact.backward("hardtanh", g, x, out=out, backend="numba"),
                              lambda: torch.ops.aten.hardtanh_backward.grad_input(
                                  tg, tx, -1, 1, grad_input=to)),
    }
    res = {}
    for _ in range(rounds):
        for label, pooled in VARIANTS.items():
            _numba.WORK_POOL = pooled
            for name, (fa, _) in cases.items():
                res.setdefault((name, label), []).append(median_us(fa))
        for name, (_, peer) in cases.items():
            res.setdefault((name, "torch"), []).append(median_us(peer))
    _numba.WORK_POOL = VARIANTS["after"]
    for name in cases:
        cell = {k[1]: round(float(np.median(v)), 1) for k, v in res.items() if k[0] == name}
        print(f"{name} {dtype} {n:.0e}: before {cell['before']} us, after {cell['after']} us,"
              f" torch {cell['torch']} us")
