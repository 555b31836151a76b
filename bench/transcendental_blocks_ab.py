"""Interleaved A/B of the Cython transcendental loops: in 2 KiB prefetched write blocks (B)
or one loop call a chunk (U, the default), with ``out`` at a page-offset distance from x.

    python bench/transcendental_blocks_ab.py [n] [functions] [distances] [threads] [mode] [dtype]
    python bench/transcendental_blocks_ab.py 3e6 silu,gelu,sigmoid,tanh,softplus 0,64,-64,2048 1
    python bench/transcendental_blocks_ab.py 1e7 silu,gelu,tanh,sigmoid 0 2 backward

Switched at run time in one process (``_kernels._set_transcendental_blocks``); each
round runs both variants (0.05 s of untimed calls, then 20 timed calls: the block's
median), in alternating order, 9 rounds.  ``distance`` is out's offset in bytes from
x's within a 4 KiB page (0: the ``np.empty_like`` case of large arrays).  Printed:
ns per element of B and U (medians over rounds) and U/B.  ``backward``: grad * f'(x),
grad at x's page offset.
"""
import sys
import time

import numpy as np

import fastact
from fastact import _cython


def at_offset(n: int, dtype, offset: int) -> np.ndarray:
    """An uninitialised 1-D array of n elements starting ``offset`` bytes into a page."""
    size = np.dtype(dtype).itemsize
    raw = np.empty(n * size + 8192, np.uint8)
    start = ((-raw.ctypes.data) % 4096 + offset) % 4096
    return raw[start:start + n * size].view(dtype)


def block_medians(call, rounds: int = 9) -> dict:
    kernels = _cython._module
    medians = {"B": [], "U": []}
    for r in range(rounds):
        for label in (("B", "U") if r % 2 else ("U", "B")):
            kernels._set_transcendental_blocks(label == "B")
            end = time.perf_counter() + 0.05
            while time.perf_counter() < end:
                call()
            times = []
            for _ in range(20):
                t = time.perf_counter()
                call()
                times.append(time.perf_counter() - t)
            medians[label].append(np.median(times))
    kernels._set_transcendental_blocks(False)
    return {k: float(np.median(v)) for k, v in medians.items()}


def main(argv) -> None:
    n = int(float(argv[1])) if len(argv) > 1 else 3_000_000
    functions = (argv[2] if len(argv) > 2 else "silu,gelu,sigmoid,tanh,softplus").split(",")
    distances = [int(d) for d in (argv[3] if len(argv) > 3 else "0,64,-64,2048").split(",")]
    threads = int(argv[4]) if len(argv) > 4 else 1
    mode = argv[5] if len(argv) > 5 else "forward"
    dtype = np.dtype(argv[6] if len(argv) > 6 else "float32")
    fastact.set_num_threads(threads)
    rng = np.random.default_rng(0)
    for d in distances:
        x, grad, out = at_offset(n, dtype, 0), at_offset(n, dtype, 0), at_offset(n, dtype, d)
        x[:], grad[:] = rng.standard_normal(n), rng.standard_normal(n)
        for name in functions:
            if mode == "backward":
                call = lambda: fastact.backward(name, grad, x, out=out, backend="cython")
            else:
                call = lambda fn=getattr(fastact, name): fn(x, out=out, backend="cython")
            t = block_medians(call)
            print(f"d={d:5d} {threads}t {mode} {dtype} {name:9s} {n:>9d} B {t['B'] / n * 1e9:.3f}"
                  f" ns/el  U {t['U'] / n * 1e9:.3f}  U/B {t['U'] / t['B']:.3f}")


if __name__ == "__main__":
    main(sys.argv)
