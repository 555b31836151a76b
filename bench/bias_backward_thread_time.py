"""The fused bias backward with the bias gradient, one thread, CPU time per call.

    python bench/bias_backward_thread_time.py [rows=24] [functions=relu,silu,gelu] [dtypes=float32,float64]

On (rows, 4096) arrays (a dense layer's shape, as the bench's bias cases), x ~ N(0, 3^2):
``fastact.backward(name, g, x, bias=b, bias_grad=True, out=out)`` in the numba and cython
backends against PyTorch's sequence (``x + b``, the activation's backward kernel,
``.sum(0)``), with ``fastact.threads(1)`` and ``torch.set_num_threads(1)``; the best of 7
rounds of time.thread_time per call, in microseconds.
"""
import sys
import time

import numpy as np
import torch

import fastact

_TORCH = {"relu": lambda g, v: torch.ops.aten.threshold_backward(g, v, 0),
          "silu": torch.ops.aten.silu_backward, "gelu": torch.ops.aten.gelu_backward}


def _best_us(f, n):
    f()
    best = float("inf")
    for _ in range(7):
        t = time.thread_time()
        for _ in range(n):
            f()
        best = min(best, (time.thread_time() - t) / n)
    return best * 1e6


def main(rows=24, functions="relu,silu,gelu", dtypes="float32,float64"):
    rows, rng = int(float(rows)), np.random.default_rng(0)
    n = max(20, 100_000 // rows)
    torch.set_num_threads(1)
    for dt in dtypes.split(","):
        x = (rng.standard_normal((rows, 4096)) * 3).astype(dt)
        g, b = rng.standard_normal((rows, 4096)).astype(dt), rng.standard_normal(4096).astype(dt)
        out = np.empty_like(x)
        tx, tg, tb = map(torch.from_numpy, (x, g, b))
        for name in functions.split(","):
            cells = []
            with fastact.threads(1):
                for be in ("cython", "numba"):
                    us = _best_us(lambda: fastact.backward(name, g, x, bias=b, bias_grad=True,
                                                           out=out, backend=be), n)
                    cells.append(f"{be} {us:.1f}")
            peer = _best_us(lambda: _TORCH[name](tg, tx + tb).sum(0), n)
            print(f"({rows}, 4096) {dt} {name}_bias_backward: {'  '.join(cells)}  torch {peer:.1f} us")


if __name__ == "__main__":
    main(*sys.argv[1:])
