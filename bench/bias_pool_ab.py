"""Rows at 1e5 elements, interleaved in one process: the Numba bias driver, celu' from y.

    python bench/bias_pool_ab.py bias[=NAME] [dtype=float32] [rounds=41] [threads=2] [filter]
    python bench/bias_pool_ab.py from_y [dtype=float64] [rounds=15] [threads=1,2] [filter]

bias: ``gelu(x, bias=b)`` (bias=NAME: that activation; NAME_backward: its
``backward(NAME, g, x, bias=b, bias_grad=True)``) on (24, 4096) (the bench's ``gelu_bias``
at 1e5) with the Numba
backend on the extension's work pool ("nb bias") and on its own TBB driver ("nb bias
(tbb)", ``fastact._numba.WORK_POOL = False``), with Cython, plain ``gelu(x)`` of both,
and PyTorch's ``gelu(x + b)`` and ``gelu(x)``.  from_y: ``backward(name, g, y=y)`` of
celu, elu and selu (1e5 elements) with both backends and PyTorch's ``elu_backward``
from the result.  threads: 1 is the calling thread's CPU time (``time.thread_time``),
more is wall time.  filter: comma-separated substrings of the contenders to keep
(PyTorch's spinning OpenMP threads and TBB's workers slow the contender after them:
compare the Numba drivers without them).  Printed: medians (minimum) in us per call,
each round 20-30 calls of every contender in turn.
"""
import os
import statistics
import sys
import time

import numpy as np
import torch

import fastact
import fastact._numba as numba_backend


def _on_tbb(call):
    numba_backend.WORK_POOL = False
    try:
        return call()
    finally:
        numba_backend.WORK_POOL = True


def bias_contenders(dtype, name="gelu"):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((24, 4096)) * 3).astype(dtype)
    g = rng.standard_normal((24, 4096)).astype(dtype)
    b = rng.standard_normal(4096).astype(dtype)
    out = np.zeros_like(x)
    xt, bt = torch.from_numpy(x), torch.from_numpy(b)
    act = name.removesuffix("_backward")
    if name.endswith("_backward"):
        def run(be, bias=True):
            kw = {"bias": b, "bias_grad": True} if bias else {}
            return fastact.backward(act, g, x, out=out, backend=be, **kw)
    else:
        def run(be, bias=True):
            return getattr(fastact, act)(x, out=out, backend=be, **({"bias": b} if bias else {}))
    torch_act = getattr(torch.ops.aten, act)
    return {
        "nb bias": lambda: run("numba"),
        "nb bias (tbb)": lambda: _on_tbb(lambda: run("numba")),
        "nb plain": lambda: run("numba", False),
        "cy bias": lambda: run("cython"),
        "cy plain": lambda: run("cython", False),
        f"torch {act}(x + b)": lambda: torch_act(xt + bt),
        f"torch {act}": lambda: torch_act(xt),
    }


def from_y_contenders(dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(100_000).astype(dtype)
    g = rng.standard_normal(100_000).astype(dtype)
    out = np.zeros_like(x)
    gt = torch.from_numpy(g)
    params = {"celu": (1.0, 1.0), "elu": (1.0, 1.0),
              "selu": (1.6732632423543772, 1.0507009873554805)}  # alpha, scale
    c = {}
    for name, (alpha, scale) in params.items():
        y = getattr(fastact, name)(x)
        yt = torch.from_numpy(y)
        for be in ("numba", "cython"):
            c[f"{name} {be}"] = (lambda name=name, y=y, be=be:
                                 fastact.backward(name, g, y=y, out=out, backend=be))
        c[f"{name} torch"] = (lambda yt=yt, a=alpha, s=scale:
                              torch.ops.aten.elu_backward(gt, a, s, 1.0, True, yt))
    return c


def main(argv):
    group, _, name = (argv[0] if argv else "bias").partition("=")
    dtype = np.dtype(argv[1] if len(argv) > 1 else ("float32" if group == "bias" else "float64"))
    rounds = int(argv[2]) if len(argv) > 2 else (41 if group == "bias" else 15)
    thread_counts = [int(t) for t in (argv[3] if len(argv) > 3 else "2" if group == "bias"
                                      else "1,2").split(",")]
    calls = (bias_contenders(dtype, name or "gelu") if group == "bias"
             else from_y_contenders(dtype))
    if len(argv) > 4:
        calls = {k: v for k, v in calls.items() if any(w in k for w in argv[4].split(","))}
    reps = 20 if group == "bias" else 30
    for n_threads in thread_counts:
        torch.set_num_threads(n_threads)
        clock = time.thread_time if n_threads == 1 else time.perf_counter
        times = {k: [] for k in calls}
        with fastact.threads(n_threads):
            for call in calls.values():
                for _ in range(reps):
                    call()
            for _ in range(rounds):
                for k, call in calls.items():
                    t = clock()
                    for _ in range(reps):
                        call()
                    times[k].append((clock() - t) / reps * 1e6)
        what = "thread_time" if n_threads == 1 else "wall"
        print(f"{group} {dtype} threads={n_threads} ({what}), us per call, median (min):")
        for k, v in times.items():
            print(f"  {k:18s} {statistics.median(v):8.1f} ({min(v):.1f})")
    print("load average", os.getloadavg())


if __name__ == "__main__":
    main(sys.argv[1:])
