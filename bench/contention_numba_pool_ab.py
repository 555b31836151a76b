"""Interleaved A/B of the Numba backend's large loops on TBB or on the work pool, beside 0, 1
and 2 busy processes.

    python bench/contention_numba_pool_ab.py [functions] [sizes] [seconds] [rounds]
    python bench/contention_numba_pool_ab.py relu,sigmoid,gelu,softmax 1e5,1e7 0.25 6

Variants, switched at run time in one process (float32, ``out=``, 2 threads, backend
"numba"; the softmax family on rows of 1000): ``T`` (every parallel loop on Numba's
threading layer) and ``P`` (``fastact._numba.WORK_POOL``: the Numba-compiled chunks on
the Cython extension's work pool, the default).  Each round runs the phases 0, 1 and 2 busy
processes; inside a phase both variants run ``seconds`` of single calls per cell, in
alternating order.  Printed: median and p90 per variant and busy count, relative to the
quiet median of ``T``.
"""
import sys

import fastact
import fastact._numba as numba_backend
from contention_apart_ab import make_cells, print_table
from fastact._bench.busy import BusyProcesses
from fastact._bench.contention import time_calls


def run(cells, seconds: float, rounds: int) -> dict:
    samples = {}
    for round_no in range(rounds):
        for busy in (0, 1, 2):
            with BusyProcesses(busy):
                for variant in ((1, 0) if round_no % 2 else (0, 1)):
                    numba_backend.WORK_POOL = bool(variant)
                    for key, call in cells:
                        samples.setdefault(key + (busy, variant), []).extend(
                            time_calls(call, seconds))
    numba_backend.WORK_POOL = True
    return samples


def main(argv) -> None:
    functions = (argv[1] if len(argv) > 1 else "relu,sigmoid,gelu,tanh").split(",")
    sizes = [int(float(s)) for s in (argv[2] if len(argv) > 2 else "1e6,1e7").split(",")]
    seconds = float(argv[3]) if len(argv) > 3 else 0.25
    rounds = int(argv[4]) if len(argv) > 4 else 8
    fastact.set_num_threads(2)
    cells = make_cells(functions, sizes, backend="numba")
    samples = run(cells, seconds, rounds)
    print(f"load {open('/proc/loadavg').read().strip()}")
    print_table(cells, samples, "TP")


if __name__ == "__main__":
    main(sys.argv)
