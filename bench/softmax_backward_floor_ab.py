"""softmax_backward at shapes whose read-two-write-one pass runs in cache: the public calls
beside what bounds them, in one process on the same arrays.

    python bench/softmax_backward_floor_ab.py [shapes=64x1000] [rounds=21] [threads=2]

Variants, each a block of 200 calls per round (arrays stay in cache, as in ``fastact
bench``), shuffled, medians and minima over the rounds:

- ``floor``: ``np.add(y, g, out=o)``, one thread (the bar's pass);
- ``numba``, ``cython``: the public calls (Numba as planned; ``numba-thr``: Numba with the
  serial threshold at 0, so threaded);
- ``numba-1t``, ``cython-1t``: the kernels alone on one thread, without the dispatch (Numba's
  serial entry; Cython's row kernel with one thread): what a one-thread call cannot go below;
- ``call``: the public Numba and Cython call on a (2, 16) array: the dispatch's share.
"""
import statistics
import sys

import numpy as np

import fastact
from fastact import _backends
from fastact._numba.softmax import _plan
from fastact._numba.softmax._plan import ROWS
from fastact._numba.softmax._rows import SOFTMAX
from fastact._numba.softmax._tasks import serial_entry
from softmax_backward_serial_ab import block_rounds  # this directory's shared timing loop


def _variants(shape, dtype, rng):
    rows, n = (int(v) for v in shape.split("x"))
    y = fastact.softmax(rng.standard_normal((rows, n)).astype(dtype))
    g = rng.standard_normal((rows, n)).astype(dtype)
    o = np.empty_like(y)
    ys, gs, os_ = (np.zeros((2, 16), dtype) for _ in range(3))
    serial = serial_entry(SOFTMAX, ROWS)
    cython_kernel = _backends.load("cython").get_rowwise("softmax_backward")
    shipped = _plan.BACKWARD_SERIAL_MAX_BYTES

    def numba_at(threshold):
        def run():
            _plan.BACKWARD_SERIAL_MAX_BYTES = threshold
            fastact.softmax_backward(g, y, out=o, backend="numba")
            _plan.BACKWARD_SERIAL_MAX_BYTES = shipped
        return run

    return {
        "floor": lambda: np.add(y, g, out=o),
        "numba": lambda: fastact.softmax_backward(g, y, out=o, backend="numba"),
        "numba-thr": numba_at(0),
        "cython": lambda: fastact.softmax_backward(g, y, out=o, backend="cython"),
        "numba-1t": lambda: serial(False, o, y, g, None, rows),
        "cython-1t": lambda: cython_kernel(o, y, g, None, 1),
        "call-numba": lambda: fastact.softmax_backward(gs, ys, out=os_, backend="numba"),
        "call-cython": lambda: fastact.softmax_backward(gs, ys, out=os_, backend="cython"),
    }


def main(shapes="64x1000", rounds="21", threads="2"):
    fastact.set_num_threads(int(threads))
    rng = np.random.default_rng(0)
    print(f"threads={threads} rounds={rounds}: us per call, median (min); ratio: median / "
          "floor's median")
    for dtype in ("float32", "float64"):
        for shape in shapes.split(","):
            calls = _variants(shape, dtype, rng)
            times = block_rounds(calls, rounds)
            med = {k: statistics.median(v) for k, v in times.items()}
            floor = med["floor"]
            print(f"{dtype} {shape}: " + "  ".join(
                f"{k} {v * 1e6:.1f} ({min(times[k]) * 1e6:.1f}) x{v / floor:.2f}"
                for k, v in med.items()), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
