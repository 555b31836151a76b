"""The Numba parallel launch against the elementwise rows it decides, in one process.

    python bench/numba_launch.py [--rows mem64|compute|bias|all] [--size 1e5] [--rounds 15]

``launch``: the minimal parallel region through the real driver
(``fastact._bench.launch``): per-call wall time on 2 threads, the calling thread's
CPU time in it, and the serial call of the same kernel.

Rows: each kernel at ``--size`` timed, interleaved round-robin in one process (order
alternated): Numba serial and parallel (its thresholds forced to infinity / 1; wall,
2 threads), Cython at its own policy (wall, 2 threads), and the one-thread CPU time
(``time.thread_time``) of each backend's serial loop.  Medians over the rounds of the
mean of a batch of calls.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

ROWS = {
    "mem64": [("identity", "backward", "float64"), ("identity", "backward_y", "float64"),
              ("threshold", "backward", "float64"), ("hardshrink", "backward_y", "float64"),
              ("hardtanh", "backward_y", "float64"), ("leaky_relu", "backward_y", "float64"),
              ("tanh", "backward_y", "float64"), ("sigmoid", "backward_y", "float64"),
              ("celu", "backward_y", "float64"), ("selu", "backward_y", "float64"),
              ("leaky_relu", "backward", "float64"), ("relu6", "backward", "float64"),
              ("relu6", "backward_y", "float64"), ("relu", "backward_y", "float64")],
    "compute": [("silu", "backward", "float32"), ("gelu_tanh", "backward", "float32"),
                ("celu", "backward", "float32"), ("tanhshrink", "forward", "float32"),
                ("gelu", "forward", "float32"), ("logsigmoid", "backward", "float64")],
    "mem32": [("threshold", "forward", "float32"), ("relu6", "forward", "float32"),
              ("hardsigmoid", "forward", "float32"), ("hardtanh", "backward", "float32"),
              ("elu", "backward_y", "float32"), ("hardshrink", "forward", "float32"),
              ("identity", "backward_y", "float32"), ("silu", "forward", "float32")],
}


def _batch(fn, calls, clock):
    t0 = clock()
    for _ in range(calls):
        fn()
    return (clock() - t0) / calls


def interleaved(variants, rounds, calls):
    """{label: median seconds per call}; variants: {label: (fn, clock)}."""
    for fn, _ in variants.values():
        fn()
    samples = {k: [] for k in variants}
    labels = list(variants)
    for r in range(rounds):
        for label in (labels if r % 2 == 0 else labels[::-1]):
            fn, clock = variants[label]
            samples[label].append(_batch(fn, calls, clock))
    return {k: float(np.median(v)) for k, v in samples.items()}


def rows(ns):
    from fastact import _cython as cy
    from fastact import _numba as nb
    from fastact._registry import kernel_params_for

    big = 1 << 62
    n = int(float(ns.size))
    calls = max(1, int(2e6 // n))

    def numba_at(threshold):
        def set_():
            nb.PARALLEL_THRESHOLD = nb.PARALLEL_MIN_BYTES_CHEAP = threshold
        return set_

    def call(kernel, args, before=None):
        def fn():
            if before is not None:
                before()
            kernel(*args)
        return fn

    default = (nb.PARALLEL_THRESHOLD, nb.PARALLEL_MIN_BYTES_CHEAP)
    print("| kernel | dtype | n | numba serial | numba 2 threads | cython 2 threads "
          "| numba CPU 1t | cython CPU 1t | numba/cython CPU |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    rng = np.random.default_rng(0)
    for kid, mode, dtype in ns.rows:
        x = (rng.standard_normal(n) * 3).astype(dtype)
        g = rng.standard_normal(n).astype(dtype) if mode.startswith("backward") else None
        out = np.empty_like(x)
        params = kernel_params_for(kid)
        knb, kcy = nb.get_elementwise(kid, mode), cy.get_elementwise(kid, mode)
        two, one = (out, x, g, params, 2), (out, x, g, params, 1)
        t = interleaved({
            "nb_serial": (call(knb, two, numba_at(big)), time.perf_counter),
            "nb_par": (call(knb, two, numba_at(1)), time.perf_counter),
            "cy": (call(kcy, two), time.perf_counter),
            "nb_cpu": (call(knb, one), time.thread_time),
            "cy_cpu": (call(kcy, one), time.thread_time),
        }, ns.rounds, calls)
        nb.PARALLEL_THRESHOLD, nb.PARALLEL_MIN_BYTES_CHEAP = default
        us = {k: v * 1e6 for k, v in t.items()}
        print(f"| {kid}:{mode} | {dtype} | {n:.0e} | {us['nb_serial']:.1f} | {us['nb_par']:.1f}"
              f" | {us['cy']:.1f} | {us['nb_cpu']:.1f} | {us['cy_cpu']:.1f}"
              f" | {t['nb_cpu'] / t['cy_cpu']:.2f} |", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="all", help=",".join(ROWS) + " or all")
    parser.add_argument("--size", default="1e5")
    parser.add_argument("--rounds", type=int, default=15)
    ns = parser.parse_args()
    from fastact._bench.launch import numba_launch

    groups = list(ROWS) if ns.rows == "all" else ns.rows.split(",")
    print(f"load average {os.getloadavg()[0]:.1f}")
    print("launch:", {k: round(v * 1e6, 2) if isinstance(v, float) and k != "caller_share" else v
                      for k, v in numba_launch(2, rounds=4 * ns.rounds).items()})
    ns.rows = [r for g in groups for r in ROWS[g]]
    rows(ns)
    print("launch:", {k: round(v * 1e6, 2) if isinstance(v, float) and k != "caller_share" else v
                      for k, v in numba_launch(2, rounds=4 * ns.rounds).items()})
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
