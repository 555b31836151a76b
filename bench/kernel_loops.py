"""ns per element of the compiled backends' elementwise loops, called directly (no dispatch).

    python bench/kernel_loops.py float32 1e5 selu:forward,softplus:backward [threads=1]

x ~ N(0, 3^2) and grad ~ N(0, 1), as in ``fastact bench``; each kernel of each backend
(Cython, then Numba) is timed in 30 rounds of 20 calls, and the best round's time per call
is printed over the element count, with Numba / Cython.  One thread by default: the loop's
own cost, without the launch.  Run it on two builds (or before and after a change to a
formula) and compare the columns.
"""
import sys
import time

import numpy as np

from fastact import _cython, _numba
from fastact._registry import kernel_params_for

ROUNDS, CALLS = 30, 20


def ns_per_element(backend, kid, mode, x, g, threads):
    kernel = backend.get_elementwise(kid, mode)
    grad = g if "backward" in mode else None
    params = kernel_params_for(kid)
    out = np.empty_like(x)
    kernel(out, x, grad, params, threads)  # compiles lazily compiled kernels
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(CALLS):
            kernel(out, x, grad, params, threads)
        best = min(best, (time.perf_counter() - start) / CALLS)
    return best / x.size * 1e9


def main(argv):
    dtype, n, kernels = argv[0], int(float(argv[1])), argv[2].split(",")
    threads = int(argv[3]) if len(argv) > 3 else 1
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(n) * 3).astype(dtype)
    g = rng.standard_normal(n).astype(dtype)
    print(f"| kernel | cython ns/el | numba ns/el | numba / cython |  ({dtype}, {n:.0e}, "
          f"{threads} thread(s))")
    print("|---|---:|---:|---:|")
    for name in kernels:
        kid, mode = name.split(":")
        cy, nb = (ns_per_element(be, kid, mode, x, g, threads) for be in (_cython, _numba))
        print(f"| {name} | {cy:.3f} | {nb:.3f} | {nb / cy:.2f} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
