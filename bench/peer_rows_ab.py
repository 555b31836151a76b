"""Elementwise rows against PyTorch, interleaved in one process on the same arrays.

    python bench/peer_rows_ab.py [--rounds 15] [--size 1e7] [--threads 2] [--rows ROW,...]

A row is ``function:mode:dtype`` (mode ``forward`` or ``backward`` from x), e.g.
``silu:backward:float32``; default: the rows below.  Each round times every variant
(Numba, Cython, PyTorch with ``out=``, and a copy of the same streams: ``np.copyto`` of x
into out, plus grad read for a backward) once, best of ``--calls`` calls, in a shuffled
order; prints the median time of each and the ratios to PyTorch's median.  x ~ N(0, 3^2),
grad ~ N(0, 1), out preallocated, as ``fastact bench`` does.
"""
from __future__ import annotations

import argparse
import random
import statistics
import time

import numpy as np

ROWS = ("celu:backward:float32", "celu:backward:float64", "selu:backward:float32",
        "silu:backward:float32", "silu:backward:float64", "swish:backward:float32",
        "swish:backward:float64", "softplus:backward:float32", "softplus:forward:float32",
        "tanh:forward:float64")


def _torch_call(name, mode, x, grad, out):
    import torch

    aten = torch.ops.aten
    tx, to = torch.from_numpy(x), torch.from_numpy(out)
    tg = torch.from_numpy(grad)
    if mode == "forward":
        return {"tanh": lambda: aten.tanh.out(tx, out=to),
                "silu": lambda: aten.silu.out(tx, out=to),
                "softplus": lambda: aten.softplus.out(tx, 1.0, 20.0, out=to)}[name]
    selu = (1.6732632423543772848170429916717, 1.0507009873554804934193349852946, 1.0)
    elu = {"celu": (1.0, 1.0, 1.0), "selu": selu}
    if name in elu:
        return lambda: aten.elu_backward.grad_input(tg, *elu[name], False, tx, grad_input=to)
    if name in ("silu", "swish"):
        return lambda: aten.silu_backward.grad_input(tg, tx, grad_input=to)
    return lambda: aten.softplus_backward.grad_input(tg, tx, 1.0, 20.0, grad_input=to)


def _fastact_call(name, mode, backend, x, grad, out):
    import fastact

    if mode == "forward":
        f = getattr(fastact, name)
        return lambda: f(x, out=out, backend=backend)
    return lambda: fastact.backward(name, grad, x, out=out, backend=backend)


def _copy_call(mode, x, grad, out):
    if mode == "forward":
        return lambda: np.copyto(out, x)
    return lambda: np.add(x, grad, out=out)  # the same three streams, trivial arithmetic


def variants(row, n, rng):
    name, mode, dtype = row.split(":")
    x = (rng.standard_normal(n) * 3.0).astype(dtype)
    grad = rng.standard_normal(n).astype(dtype)
    out = np.empty_like(x)
    calls = {b: _fastact_call(name, mode, b, x, grad, out) for b in ("numba", "cython")}
    calls["torch"] = _torch_call(name, mode, x, grad, out)
    calls["copy"] = _copy_call(mode, x, grad, out)
    return calls


def interleaved(calls, rounds, per_call):
    times = {k: [] for k in calls}
    order = list(calls)
    for fn in calls.values():
        fn()
    for _ in range(rounds):
        random.shuffle(order)
        for k in order:
            best = float("inf")
            for _ in range(per_call):
                t0 = time.perf_counter()
                calls[k]()
                best = min(best, time.perf_counter() - t0)
            times[k].append(best)
    return {k: statistics.median(v) for k, v in times.items()}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--calls", type=int, default=3)
    p.add_argument("--size", default="1e7")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rows", default=",".join(ROWS))
    ns = p.parse_args()
    import fastact
    import torch

    fastact.set_num_threads(ns.threads)
    torch.set_num_threads(ns.threads)
    rng = np.random.default_rng(0)
    n = int(float(ns.size))
    print(f"n={n} threads={ns.threads} rounds={ns.rounds} (median of best-of-{ns.calls})")
    for row in ns.rows.split(","):
        med = interleaved(variants(row, n, rng), ns.rounds, ns.calls)
        t = med["torch"]
        print(f"{row:28s} torch {t * 1e3:8.3f} ms  numba {med['numba'] / t:5.2f}  "
              f"cython {med['cython'] / t:5.2f}  copy {med['copy'] / t:5.2f}  "
              f"(numba {med['numba'] * 1e3:.3f} cython {med['cython'] * 1e3:.3f} "
              f"copy {med['copy'] * 1e3:.3f} ms)", flush=True)


if __name__ == "__main__":
    main()
