"""softmax_backward and log_softmax_backward of the Numba backend against a
read-two-write-one pass (``np.add(y, g, out=o)``, the same bytes), one thread, CPU time.

    python bench/rowwise_backward_thread_time.py [rounds=5]

Shapes 65536x16, 16384x64, 8192x128, 64x1000, float32 and float64; y a softmax (or
log_softmax) of N(0, 1) rows, g ~ N(0, 1); the kernel of ``fastact._numba.softmax.get_rowwise``
with one thread, ``out=`` preallocated.  Each round times a batch of ~20 ms of each, in
turn; printed: medians in microseconds and their ratio.
"""
import statistics
import sys
import time

import numpy as np

from fastact._numba.softmax import get_rowwise


def _batch(f, reps):
    t0 = time.thread_time()
    for _ in range(reps):
        f()
    return (time.thread_time() - t0) / reps


def _inputs(op, shape, dtype, rng):
    x = rng.standard_normal(shape)
    y = np.exp(x - x.max(1, keepdims=True))
    y /= y.sum(1, keepdims=True)
    if op == "log_softmax_backward":
        y = np.log(y)
    return y.astype(dtype), rng.standard_normal(shape).astype(dtype)


def main(rounds=5):
    rounds = int(rounds)
    for dtype in ("float32", "float64"):
        for shape in ((65536, 16), (16384, 64), (8192, 128), (64, 1000)):
            rng = np.random.default_rng(0)
            for op in ("softmax_backward", "log_softmax_backward"):
                y, g = _inputs(op, shape, dtype, rng)
                o, kernel = np.empty_like(y), get_rowwise(op)
                ours, ref = (lambda: kernel(o, y, g, None, 1)), (lambda: np.add(y, g, out=o))
                ours(), ref()
                t0 = time.perf_counter()
                ours()
                reps = max(1, int(0.02 / max(time.perf_counter() - t0, 1e-7)))
                a, b = zip(*((_batch(ours, reps), _batch(ref, reps)) for _ in range(rounds)))
                a, b = statistics.median(a), statistics.median(b)
                print(f"{op:21s} {dtype} {shape[0]}x{shape[1]:<5d} numba {a * 1e6:8.1f} us  "
                      f"add {b * 1e6:7.1f} us  ratio {a / b:5.2f}", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
