"""The Numba elementwise driver with 2 threads on more chunks, beside 0, 1 and 2 busy processes.

    python bench/contention_numba_chunks.py [functions] [sizes] [seconds] [rounds] [chunks]
    python bench/contention_numba_chunks.py relu,sigmoid,gelu 1e5,1e7 0.25 4 2,8,32

Calls the float32 forward driver (``_parallel.driver_for``) directly with 2 threads and
each chunk count (the backend passes one chunk per thread), in one process; each round
runs the phases 0, 1 and 2 busy processes (pinned from the last core) and every
cell ``seconds`` of single calls per phase, the cell order reversed every other round.
Printed: median and p90 per chunk count and busy count, relative to the quiet median of
the first chunk count.
"""
import sys

import numba
import numpy as np

import fastact
from fastact._bench.busy import BusyProcesses
from fastact._bench.contention import time_calls
from fastact._numba import _factory, _parallel


def make_cells(functions, sizes, chunk_counts) -> list:
    rng = np.random.default_rng(0)
    driver = _parallel.driver_for("float32", False)
    zero = np.float32(0)
    cells = []
    for n in sizes:
        x = rng.standard_normal(n).astype(np.float32)
        out = np.empty_like(x)
        for name in functions:
            getattr(fastact, name)(x, out=out, backend="numba")
            address = _factory.chunk_address(name, "forward", "float32")
            for chunks in chunk_counts:
                def call(address=address, x=x, out=out, chunks=chunks):
                    driver(address, out, x, x, zero, zero, False, chunks)

                call()
                cells.append(((name, n, chunks), call))
    return cells


def run(cells, seconds: float, rounds: int) -> dict:
    samples = {}
    for round_no in range(rounds):
        for busy in (0, 1, 2):
            with BusyProcesses(busy):
                for key, call in (cells if round_no % 2 == 0 else cells[::-1]):
                    samples.setdefault(key + (busy,), []).extend(time_calls(call, seconds))
    return samples


def main(argv) -> None:
    functions = (argv[1] if len(argv) > 1 else "relu,sigmoid,gelu").split(",")
    sizes = [int(float(s)) for s in (argv[2] if len(argv) > 2 else "1e5,1e7").split(",")]
    seconds = float(argv[3]) if len(argv) > 3 else 0.25
    rounds = int(argv[4]) if len(argv) > 4 else 4
    chunk_counts = [int(c) for c in (argv[5] if len(argv) > 5 else "2,8,32").split(",")]
    fastact.set_num_threads(2)
    cells = make_cells(functions, sizes, chunk_counts)
    numba.set_num_threads(2)
    samples = run(cells, seconds, rounds)
    for name in functions:
        for n in sizes:
            quiet = np.median(samples[(name, n, chunk_counts[0], 0)])
            for chunks in chunk_counts:
                line = f"{name:8s} {n:>7.0e} chunks {chunks:3d} |"
                for busy in (0, 1, 2):
                    s = np.array(samples[(name, n, chunks, busy)])
                    line += (f" {busy} busy {np.median(s) / quiet:4.2f}"
                             f" (p90 {np.percentile(s, 90) / quiet:4.2f})")
                print(line, f"| quiet median ({chunk_counts[0]} chunks) {quiet * 1e3:.3f} ms")


if __name__ == "__main__":
    main(sys.argv)
