"""Interleaved A/B of the Cython work pool's contention policy beside 0, 1 and 2 busy processes.

    python bench/contention_ab.py [functions] [sizes] [rounds] [budget_s]
    python bench/contention_ab.py relu,sigmoid,gelu 1e5,1e7 4 0.05

Variants, switched at run time in one process (float32, ``out=``, 2 threads): ``old``
(no thread cap after a stall, the caller yields while it waits), ``new`` (both switches
on: the defaults), ``sleep`` (only the sleeping wait), ``cap`` (only the thread cap) and
``t1`` (one thread).  The phases 0, 1, 2 busy processes run twice; inside a phase every
variant runs ``budget`` seconds of single calls per round, in alternating order.  Printed:
median and p90 per variant and busy count, relative to the quiet median of ``old``.
"""
import sys
import time

import numpy as np

import fastact
from fastact import _cython
from fastact._bench.busy import BusyProcesses

PHASES = (0, 1, 2, 0, 1, 2)
VARIANTS = {"old": (False, False, 2), "new": (True, True, 2), "sleep": (False, True, 2),
            "cap": (True, False, 2), "t1": (False, False, 1)}


def make_cells(functions, sizes):
    rng = np.random.default_rng(0)
    cells = []
    for n in sizes:
        x = rng.standard_normal(n).astype(np.float32)
        out = np.empty_like(x)
        for name in functions:
            fn = getattr(fastact, name)
            for variant, (cap, sleep, threads) in VARIANTS.items():
                def call(fn=fn, x=x, out=out, threads=threads):
                    with fastact.threads(threads):
                        fn(x, out=out, backend="cython")

                cells.append(((name, n, variant), (cap, sleep), call))
    return cells


def apply_policy(setting):
    """This script's variants: (thread cap after a stall, sleeping join)."""
    cap, sleep = setting
    _cython._module._set_pool_adaptive(cap)
    _cython._module._set_pool_sleeping_join(sleep)


def measure(cells, rounds, budget, apply=apply_policy):
    """Samples per (cell key, busy count): the phases of PHASES, ``rounds`` rounds in each,
    the cells in alternating order, ``apply(setting)`` before each cell's calls."""
    samples = {}
    for busy in PHASES:
        with BusyProcesses(busy):
            for r in range(rounds):
                for key, setting, call in (cells if r % 2 == 0 else cells[::-1]):
                    apply(setting)
                    got = samples.setdefault((key, busy), [])
                    end = time.perf_counter() + budget
                    while time.perf_counter() < end or len(got) < 3:
                        t0 = time.perf_counter()
                        call()
                        got.append(time.perf_counter() - t0)
    return samples


def report(samples, functions, sizes, variants, base, label=""):
    """Median and p90 per variant and busy count over the quiet median of ``base``."""
    for name in functions:
        for n in sizes:
            quiet = np.median(samples[((name, n, base), 0)])
            print(f"{name} {n:g}{label}: quiet median of {base} {quiet * 1e3:.3f} ms")
            for variant in variants:
                row = [f"{variant:>6}"]
                for busy in (0, 1, 2):
                    s = samples[((name, n, variant), busy)]
                    row.append(f"busy {busy}: {np.median(s) / quiet:5.2f}x "
                               f"(p90 {np.percentile(s, 90) / quiet:5.2f}x)")
                print("   ".join(row))


def main(argv):
    functions = (argv[1] if len(argv) > 1 else "relu,sigmoid,gelu").split(",")
    sizes = [int(float(s)) for s in (argv[2] if len(argv) > 2 else "1e5,1e7").split(",")]
    rounds = int(argv[3]) if len(argv) > 3 else 4
    budget = float(argv[4]) if len(argv) > 4 else 0.05
    _cython.check_available()
    cells = make_cells(functions, sizes)
    for _, _, call in cells:
        call()  # first touch, never timed
    with open("/proc/loadavg") as f:
        print("load before:", f.read().strip())
    samples = measure(cells, rounds, budget)
    _cython._module._set_pool_adaptive(False)  # the defaults
    _cython._module._set_pool_sleeping_join(False)
    with open("/proc/loadavg") as f:
        print("load after:", f.read().strip())
    report(samples, functions, sizes, VARIANTS, "old")
    print("pool:", _cython._module._pool_state())


if __name__ == "__main__":
    main(sys.argv)
