"""Interleaved A/B of the Cython work pool's helper placement beside 0, 1 and 2 busy processes.

    python bench/contention_apart_ab.py [functions] [sizes] [seconds] [rounds]
    python bench/contention_apart_ab.py relu,sigmoid,gelu,tanh 1e5,1e7 0.25 8

Variants, switched at run time in one process (float32, ``out=``, 2 threads): ``A`` (a
helper that finds itself on its caller's core moves off it: the default) and ``o`` (it
stays; the helpers' affinity is reset to every usable core before each ``o`` block, so
an earlier move does not carry over).  Each round runs the phases 0, 1 and 2 busy
processes (`fastact._bench.busy.BusyProcesses`: pinned from the last core); inside a phase both variants run
``seconds`` of single calls per cell, in alternating order.  Printed: median and p90 per
variant and busy count, relative to the quiet median of ``o``; and the moves made.
"""
import importlib
import os
import sys

import numpy as np

import fastact
from fastact._bench.busy import BusyProcesses
from fastact._bench.contention import time_calls


def pool_module():
    """The loaded Cython kernels module (its ISA variant)."""
    from fastact import _cython

    _cython.config()
    return _cython._module or importlib.import_module("fastact._kernels")


def pool_helpers() -> list:
    """The thread ids of the pool's helpers (the pool names them)."""
    return [int(t) for t in os.listdir("/proc/self/task")
            if open(f"/proc/self/task/{t}/comm").read().strip() == "fastact-pool"]


def make_cells(functions, sizes, backend="cython") -> list:
    """((name, n), call) per function and size: float32, ``out=``, on ``backend``; the
    softmax family on rows of 1000."""
    rng = np.random.default_rng(0)
    cells = []
    for n in sizes:
        for name in functions:
            x = rng.standard_normal(n).astype(np.float32)
            if name in ("softmax", "log_softmax", "logsumexp"):
                x = x.reshape(-1, 1000)
            out = np.empty_like(x) if name != "logsumexp" else np.empty(x.shape[0], x.dtype)
            fn = getattr(fastact, name)
            fn(x, out=out, backend=backend)
            cells.append(((name, n), lambda fn=fn, x=x, out=out: fn(x, out=out, backend=backend)))
    return cells


def run(cells, seconds: float, rounds: int) -> dict:
    kernels, everywhere = pool_module(), os.sched_getaffinity(0)
    samples = {}
    for round_no in range(rounds):
        for busy in (0, 1, 2):
            with BusyProcesses(busy):
                for apart in ((1, 0) if round_no % 2 else (0, 1)):
                    kernels._set_pool_apart(apart)
                    if not apart:
                        for tid in pool_helpers():
                            os.sched_setaffinity(tid, everywhere)
                    for key, call in cells:
                        samples.setdefault(key + (busy, apart), []).extend(time_calls(call, seconds))
    kernels._set_pool_apart(1)
    return samples


def main(argv) -> None:
    functions = (argv[1] if len(argv) > 1 else "relu,sigmoid,gelu,tanh").split(",")
    sizes = [int(float(s)) for s in (argv[2] if len(argv) > 2 else "1e5,1e7").split(",")]
    seconds = float(argv[3]) if len(argv) > 3 else 0.25
    rounds = int(argv[4]) if len(argv) > 4 else 8
    fastact.set_num_threads(2)
    cells = make_cells(functions, sizes)
    samples = run(cells, seconds, rounds)
    print(f"load {open('/proc/loadavg').read().strip()}; moves {pool_module()._set_pool_apart(1)[1]}")
    print_table(cells, samples, "oA")


def print_table(cells, samples, labels) -> None:
    """Per cell: median and p90 of each variant (samples keyed (name, n, busy, variant
    index)) and busy count, over the quiet median of variant 0; ``labels[i]`` names variant i."""
    for (name, n), _ in cells:
        quiet = np.median(samples[(name, n, 0, 0)])
        line = f"{name:8s} {n:>7.0e} quiet median ({labels[0]}) {quiet * 1e3:7.3f} ms |"
        for busy in (0, 1, 2):
            for v, label in enumerate(labels):
                s = np.array(samples[(name, n, busy, v)])
                line += (f" {busy} busy {label} {np.median(s) / quiet:4.2f}"
                         f" (p90 {np.percentile(s, 90) / quiet:4.2f})")
        print(line)


if __name__ == "__main__":
    main(sys.argv)
