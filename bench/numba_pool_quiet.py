"""Quiet A/B of the Numba backend's parallel elementwise calls: on TBB (T) or on the work pool
(P, the default), beside the Cython backend (C), in blocks of calls.

    python bench/numba_pool_quiet.py n functions [rounds] [row length]
    python bench/numba_pool_quiet.py 5e4 relu,sigmoid,gelu,tanh 9
    python bench/numba_pool_quiet.py 1e6 softmax,log_softmax,logsumexp 9 1000

float32, ``out=``, 2 threads; the softmax family on rows of 1000 (or the given length).  Each round runs every variant as a block: 0.05 s of
untimed calls (the other variant's threads settle), then 40 timed calls (the block's
median); the order alternates between rounds.  Printed: T's median time and each
variant's median over T's.
"""
import sys
import time

import numpy as np

import fastact
import fastact._numba as numba_backend


def block_median(call) -> float:
    end = time.perf_counter() + 0.05
    while time.perf_counter() < end:
        call()
    times = []
    for _ in range(40):
        t = time.perf_counter()
        call()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def main(argv) -> None:
    n = int(float(argv[1]))
    functions = argv[2].split(",")
    rounds = int(argv[3]) if len(argv) > 3 else 9
    fastact.set_num_threads(2)
    for name in functions:
        x = np.random.default_rng(0).standard_normal(n).astype(np.float32)
        if name in ("softmax", "log_softmax", "logsumexp"):
            x = x.reshape(-1, int(float(argv[4])) if len(argv) > 4 else 1000)
        out = np.empty_like(x) if name != "logsumexp" else np.empty(x.shape[0], x.dtype)
        fn = getattr(fastact, name)
        variants = {"T": (False, "numba"), "P": (True, "numba"), "C": (True, "cython")}
        medians = {k: [] for k in variants}
        for r in range(rounds):
            for label in (list(variants) if r % 2 else list(variants)[::-1]):
                numba_backend.WORK_POOL, backend = variants[label]
                medians[label].append(block_median(lambda: fn(x, out=out, backend=backend)))
        numba_backend.WORK_POOL = True
        base = np.median(medians["T"])
        print(f"{name:10s} {n:>9d} T {base * 1e3:.4f} ms",
              " ".join(f"{k} {np.median(v) / base:.3f}" for k, v in medians.items()))


if __name__ == "__main__":
    main(sys.argv)
