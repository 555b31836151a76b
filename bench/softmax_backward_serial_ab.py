"""Interleaved A/B of the Numba softmax_backward serial threshold
(``_plan.BACKWARD_SERIAL_MAX_BYTES``: serial up to that many bytes of y) on the public call,
2 threads, with the Cython backend and the read-two-write-one floor (``np.add(y, g, out=o)``)
on the same arrays.

    python bench/softmax_backward_serial_ab.py [shapes=64x1000,32x1000,16x1000,64x256]
        [thresholds=262144,65536,0] [rounds=15] [op=softmax_backward]

Each round times every variant as a block of 200 calls (arrays stay in cache, as in
``fastact bench``), shuffled; prints medians per call and the ratios to the floor.
"""
import random
import statistics
import sys
import time

import numpy as np

import fastact
from fastact._numba.softmax import _plan


def _block(fn, calls=200):
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls


def block_rounds(calls, rounds):
    """{name: [per-call time of each round's block of 200 calls]}: every variant once per
    round, in a shuffled order, after a warm-up block of 20."""
    times = {k: [] for k in calls}
    for fn in calls.values():
        _block(fn, 20)
    for _ in range(int(rounds)):
        order = list(calls)
        random.shuffle(order)
        for k in order:
            times[k].append(_block(calls[k]))
    return times


def main(shapes="64x1000,32x1000,16x1000,64x256", thresholds="262144,65536,0", rounds="15",
         op="softmax_backward"):
    fastact.set_num_threads(2)
    rng = np.random.default_rng(0)
    f = getattr(fastact, op)
    old = _plan.BACKWARD_SERIAL_MAX_BYTES
    for dtype in ("float32", "float64"):
        for shape in shapes.split(","):
            rows, n = (int(v) for v in shape.split("x"))
            x = rng.standard_normal((rows, n)).astype(dtype)
            y, g, o = fastact.softmax(x), rng.standard_normal((rows, n)).astype(dtype), np.empty_like(x)

            def numba_at(t):
                def run():
                    _plan.BACKWARD_SERIAL_MAX_BYTES = t
                    f(g, y, out=o, backend="numba")
                return run
            calls = {f"numba<={t}": numba_at(int(t)) for t in thresholds.split(",")}
            calls["cython"] = lambda: f(g, y, out=o, backend="cython")
            calls["floor"] = lambda: np.add(y, g, out=o)
            times = block_rounds(calls, rounds)
            med = {k: statistics.median(v) for k, v in times.items()}
            print(f"{op} {dtype} {shape:>9s} floor {med['floor'] * 1e6:.1f} us  " + "  ".join(
                f"{k} {v / med['floor']:.2f}" for k, v in med.items() if k != "floor"), flush=True)
    _plan.BACKWARD_SERIAL_MAX_BYTES = old


if __name__ == "__main__":
    main(*sys.argv[1:])
