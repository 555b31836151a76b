"""softmax_backward on the work pool: parts per thread, and the public calls beside the
read-two-write-one floor, in one process on the same arrays.

    python bench/softmax_backward_parts_ab.py parts [shapes=64x1000] [rounds=15]
    python bench/softmax_backward_parts_ab.py calls [shapes=64x1000] [rounds=15]
    python bench/softmax_backward_parts_ab.py idle [shapes=64x1000] [rounds=40]

``parts``: the Numba backward part function (op kind SOFTMAX, task kind ROWS) through the
extension's driver, as 1 part on the calling thread (``p1``) and as 2, 4, 8, 16 parts on 2
threads, beside ``floor`` (``np.add(y, g, out=o)``, one thread).  ``calls``: the public
softmax_backward of each backend with ``out=`` on 2 threads, the floor, and the public call
on a (2, 16) array (``call-*``: the fixed cost).  ``idle``: each backend's public call
right after the calling thread spent 20 us or 200 us busy elsewhere (the pool's helpers spin
50 us, then sleep), and the call after it; medians over the rounds.  Each round times every variant as a block
of calls (about 2 ms; arrays stay in cache, as in ``fastact bench``), in a shuffled order;
prints medians per call in us.  Run it under two trees (``PYTHONPATH=<a built checkout>``),
alternating, to compare builds: two extension modules in one process share the cores with
two work pools.
"""
import random
import statistics
import sys
import time

import numpy as np

import fastact


def _block(fn, calls):
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls


def _rounds(calls, rounds, per_block):
    times = {k: [] for k in calls}
    for fn in calls.values():
        _block(fn, 3)
    for _ in range(rounds):
        order = list(calls)
        random.shuffle(order)
        for k in order:
            times[k].append(_block(calls[k], per_block))
    return {k: statistics.median(v) for k, v in times.items()}


def _parts_variants(y, g, o):
    from fastact._numba.softmax import _pool
    from fastact._numba.softmax._plan import ROWS
    from fastact._numba.softmax._rows import SOFTMAX

    rows, n = y.shape
    address = _pool.part_address(SOFTMAX, ROWS, y.dtype.name, False)
    driver = _pool.parts_driver()

    def parts(p):
        return lambda: driver(address, (o, y, g), (rows, n, n, 0, rows, p), p, 1 if p == 1 else 2)
    return {f"p{p}": parts(p) for p in (1, 2, 4, 8, 16) if p <= rows}


def _call_variants(y, g, o):
    small = [np.zeros((2, 16), y.dtype) for _ in range(3)]
    calls = {}
    for b in ("numba", "cython"):
        calls[b] = lambda b=b: fastact.softmax_backward(g, y, out=o, backend=b)
        calls[f"call-{b}"] = lambda b=b: fastact.softmax_backward(small[0], small[1],
                                                                  out=small[2], backend=b)
    return calls


def _after_idle(call, idle, rounds):
    firsts, seconds = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < idle:
            pass
        t0 = time.perf_counter()
        call()
        t1 = time.perf_counter()
        call()
        firsts.append(time.perf_counter() - t0 - (time.perf_counter() - t1))
        seconds.append(time.perf_counter() - t1)
    return statistics.median(firsts), statistics.median(seconds)


def idle(y, g, o, rounds):
    """{backend and idle time: (first call, second call)} after the caller was busy."""
    res = {}
    for b in ("numba", "cython"):
        call = lambda b=b: fastact.softmax_backward(g, y, out=o, backend=b)  # noqa: E731
        _block(call, 50)
        for wait in (20e-6, 200e-6):
            res[f"{b} after {wait * 1e6:.0f} us"] = _after_idle(call, wait, rounds)
    return res


def main(what="calls", shapes="64x1000", rounds="15"):
    fastact.set_num_threads(2)
    rng = np.random.default_rng(0)
    if what == "idle":
        for dtype in ("float32", "float64"):
            for shape in shapes.split(","):
                rows, n = (int(v) for v in shape.split("x"))
                y = fastact.softmax(rng.standard_normal((rows, n)).astype(dtype))
                g, o = rng.standard_normal((rows, n)).astype(dtype), np.empty_like(y)
                print(f"{dtype} {shape}: " + "  ".join(
                    f"{k}: {a * 1e6:.1f} then {b * 1e6:.1f}"
                    for k, (a, b) in idle(y, g, o, int(rounds)).items()), flush=True)
        return
    for dtype in ("float32", "float64"):
        for shape in shapes.split(","):
            rows, n = (int(v) for v in shape.split("x"))
            y = fastact.softmax(rng.standard_normal((rows, n)).astype(dtype))
            g = rng.standard_normal((rows, n)).astype(dtype)
            o = np.empty_like(y)
            calls = (_parts_variants if what == "parts" else _call_variants)(y, g, o)
            calls["floor"] = lambda: np.add(y, g, out=o)
            per_block = max(3, min(2000, int(2e-3 / max(1e-7, 3 * y.nbytes / 60e9))))
            med = _rounds(calls, int(rounds), per_block)
            print(f"{dtype} {shape}: " + "  ".join(f"{k} {v * 1e6:.2f}" for k, v in med.items()),
                  flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
