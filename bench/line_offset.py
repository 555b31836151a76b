"""Memory-bound and one transcendental elementwise call, ns per element, with x, grad and out
starting at one offset within a 64-byte line (0 or 16 bytes: NumPy's large arrays sit 16
bytes past a page), on cache-resident and larger sizes.

    python bench/line_offset.py [threads] [cython|numba|numba-own] [offsets] [sizes]

numba-own: the Numba kernels on Numba's own drivers instead of the work pool; e.g. ``python bench/line_offset.py 2 cython 0,16 1e5,1e6``.  Against another build:
PYTHONPATH=<its checkout> python bench/line_offset.py ...; docs/tuning.md, "x's first partial
line as a call of its own".
"""
import sys
import timeit

import numpy as np

import fastact

CALLS = {
    "relu": lambda x, g, out, be: fastact.relu(x, out=out, backend=be),
    "relu_bwd": lambda x, g, out, be: fastact.backward("relu", g, x, out=out, backend=be),
    "hardtanh": lambda x, g, out, be: fastact.hardtanh(x, out=out, backend=be),
    "sigmoid": lambda x, g, out, be: fastact.sigmoid(x, out=out, backend=be),
}


def at_offset(n, dtype, offset):
    """An uninitialised array of n elements starting ``offset`` bytes past a 64-byte line."""
    raw = np.empty(n * dtype.itemsize + 128, np.uint8)
    start = (-raw.ctypes.data) % 64 + offset
    return raw[start:start + n * dtype.itemsize].view(dtype)


def main(threads="1", backend="cython", offsets="0,16", sizes="1e5,1e6"):
    fastact.set_num_threads(int(threads))
    if backend == "numba-own":
        from fastact import _numba

        _numba.WORK_POOL, backend = False, "numba"
    for dtype in map(np.dtype, ("float32", "float64")):
        for n in (int(float(s)) for s in sizes.split(",")):
            for offset in map(int, offsets.split(",")):
                x, g, out = (at_offset(n, dtype, offset) for _ in range(3))
                x[...] = np.random.default_rng(0).standard_normal(n)
                g[...] = 1.5
                cells = []
                for name, call in CALLS.items():
                    call(x, g, out, backend)
                    number = max(20, int(1e7 / n))
                    best = min(timeit.repeat(lambda: call(x, g, out, backend), number=number,
                                             repeat=9))
                    cells.append(f"{name} {best / number / n * 1e9:.3f}")
                print(threads, backend, dtype.name, n, offset, " | ".join(cells), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
