"""Interleaved A/B of the work pool's join (the caller, out of parts, waiting for the parts
its helpers hold) beside 0, 1 and 2 busy processes.

    python bench/contention_join_ab.py [functions] [sizes] [rounds] [budget_s] [backend]
    python bench/contention_join_ab.py relu,sigmoid,gelu,softmax 1e5,1e7 4 0.1 cython

Variants, switched at run time in one process (float32, ``out=``, 2 threads; softmax on rows
of 1000): ``pauses`` (2000 pauses, then yield: the old join), ``spin1``/``spin2``/``spin4``
(spin up to 1, 2, 4 of the caller's mean part times, then yield) and ``spin2s`` (spin two,
then sleep).  The phases 0, 1, 2 busy processes run twice; inside a phase every variant runs
``budget`` seconds of single calls per round, in alternating order.  Printed: median and
p90 per variant and busy count, relative to the quiet median of ``pauses``.
"""
import os
import sys

import numpy as np

import fastact
from fastact import _cython

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import contention_ab  # noqa: E402  (the phases and the timing loop)

VARIANTS = {"pauses": (0, False), "spin1": (1, False), "spin2": (2, False),
            "spin4": (4, False), "spin2s": (2, True)}


def make_cells(functions, sizes, backend):
    rng = np.random.default_rng(0)
    cells = []
    for n in sizes:
        x = rng.standard_normal(n).astype(np.float32)
        rows = x.reshape(-1, 1000)
        out = np.empty_like(x)
        for name in functions:
            fn = getattr(fastact, name)
            arg, dst = (rows, out.reshape(rows.shape)) if name == "softmax" else (x, out)

            def call(fn=fn, arg=arg, dst=dst):
                fn(arg, out=dst, backend=backend)

            cells += [((name, n, variant), setting, call) for variant, setting in VARIANTS.items()]
    return cells


def apply_join(setting):
    """This script's variants: (the join's spin in part times, sleeping join)."""
    spin, sleep = setting
    _cython._module._set_pool_join_spin_parts(spin)
    _cython._module._set_pool_sleeping_join(sleep)


def main(argv):
    functions = (argv[1] if len(argv) > 1 else "relu,sigmoid,gelu,softmax").split(",")
    sizes = [int(float(s)) for s in (argv[2] if len(argv) > 2 else "1e5,1e7").split(",")]
    rounds = int(argv[3]) if len(argv) > 3 else 4
    budget = float(argv[4]) if len(argv) > 4 else 0.1
    backend = argv[5] if len(argv) > 5 else "cython"
    _cython.check_available()
    defaults = (_cython._module._set_pool_join_spin_parts(0),
                _cython._module._set_pool_sleeping_join(False))
    cells = make_cells(functions, sizes, backend)
    with fastact.threads(2):
        for _, _, call in cells:
            call()  # first touch, compile: never timed
        with open("/proc/loadavg") as f:
            print("load before:", f.read().strip())
        samples = contention_ab.measure(cells, rounds, budget, apply_join)
    _cython._module._set_pool_join_spin_parts(defaults[0])
    _cython._module._set_pool_sleeping_join(defaults[1])
    with open("/proc/loadavg") as f:
        print("load after:", f.read().strip())
    contention_ab.report(samples, functions, sizes, VARIANTS, "pauses", f" ({backend})")


if __name__ == "__main__":
    main(sys.argv)
