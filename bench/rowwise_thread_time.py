"""One-thread CPU time of the Numba softmax-family row kernels against PyTorch's.

    python bench/rowwise_thread_time.py [OPS] [DTYPES] [SHAPES] [ROUNDS]
    e.g. python bench/rowwise_thread_time.py softmax,log_softmax float32 65536x16,16384x64 7

Both run on the calling thread (``n_threads`` 1, ``torch.set_num_threads(1)``), timed
by ``time.thread_time`` (CPU time of this thread: robust on a shared machine), each
round one batch of each, alternating.  Printed per case: the medians and numba / torch.
"""
import statistics
import sys
import time

import numpy as np
import torch

from fastact._numba.softmax import get_rowwise

_TORCH = {"softmax": lambda t, o: torch.ops.aten._softmax.out(t, -1, False, out=o),
          "log_softmax": lambda t, o: torch.ops.aten._log_softmax.out(t, -1, False, out=o),
          "logsumexp": lambda t, o: torch.logsumexp(t, -1, out=o)}


def _batch(f, reps):
    t0 = time.thread_time()
    for _ in range(reps):
        f()
    return (time.thread_time() - t0) / reps


def case(op, dtype, shape, rounds):
    """(numba, torch) median seconds per call."""
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    out = np.empty(shape[:1] if op == "logsumexp" else shape, dtype)
    kernel = get_rowwise(op)
    tx, tout = torch.from_numpy(x), torch.empty(out.shape, dtype=torch.from_numpy(out).dtype)
    ours = lambda: kernel(out, x, None, None, 1)  # noqa: E731
    theirs = lambda: _TORCH[op](tx, tout)  # noqa: E731
    ours(), theirs()
    t0 = time.perf_counter()
    ours()
    reps = max(1, int(0.02 / max(time.perf_counter() - t0, 1e-7)))
    a, b = zip(*((_batch(ours, reps), _batch(theirs, reps)) for _ in range(rounds)))
    return statistics.median(a), statistics.median(b)


def main(argv):
    torch.set_num_threads(1)
    ops = (argv[0] if argv else "softmax,log_softmax,logsumexp").split(",")
    dtypes = (argv[1] if len(argv) > 1 else "float32,float64").split(",")
    shapes = [tuple(map(int, s.split("x"))) for s in (
        argv[2] if len(argv) > 2 else "64x1000,4096x2048,256x50257,65536x16,16384x64,8192x128"
    ).split(",")]
    rounds = int(argv[3]) if len(argv) > 3 else 7
    for dtype in dtypes:
        for shape in shapes:
            for op in ops:
                ours, theirs = case(op, dtype, shape, rounds)
                print(f"{op:12s} {dtype} {shape[0]}x{shape[1]:<6d} numba {ours * 1e6:9.1f} us"
                      f"  torch {theirs * 1e6:9.1f} us  ratio {ours / theirs:5.2f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
