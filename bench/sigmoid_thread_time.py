"""silu, silu_backward, sigmoid, tanh, tanhshrink: one thread, CPU time per element (time.thread_time).

    python bench/sigmoid_thread_time.py [n=1e5] [dtypes=float32,float64] [functions=silu,silu_backward,sigmoid]
    python bench/sigmoid_thread_time.py 1e5 float32 tanh,tanhshrink

x ~ N(0, 3^2), grad ~ N(0, 1); fastact's numba and cython backends and PyTorch's aten ops
(out= preallocated everywhere; tanhshrink: tanh into out, then x - out) on the same arrays,
interleaved in one process: each round times 3 calls of every contender in turn; printed:
PyTorch's ns per element and each backend's time / PyTorch's (medians).  Against another build: PYTHONPATH=<its checkout> python ...
"""
import sys
import time

import numpy as np
import torch

import fastact


def _median_time(f, reps=15):
    f()
    ts = []
    for _ in range(reps):
        t = time.thread_time()
        f(), f(), f()
        ts.append((time.thread_time() - t) / 3)
    return float(np.median(ts))


def _contenders(fn, x, g, out):
    tx, tg, to = torch.from_numpy(x), torch.from_numpy(g), torch.from_numpy(out)
    if fn == "silu_backward":
        ours = {b: (lambda b=b: fastact.backward("silu", g, x, out=out, backend=b)) for b in ("numba", "cython")}
        return ours, lambda: torch.ops.aten.silu_backward.grad_input(tg, tx, grad_input=to)
    ours = {b: (lambda b=b: getattr(fastact, fn)(x, out=out, backend=b)) for b in ("numba", "cython")}
    if fn == "tanhshrink":  # no aten op: PyTorch's composite x - tanh(x), without temporaries
        return ours, lambda: torch.sub(tx, torch.tanh(tx, out=to), out=to)
    return ours, lambda: getattr(torch.ops.aten, fn).out(tx, out=to)


def main(n=1e5, dtypes="float32,float64", functions="silu,silu_backward,sigmoid"):
    torch.set_num_threads(1)
    fastact.set_num_threads(1)
    n, rng = int(float(n)), np.random.default_rng(1)
    for dt in dtypes.split(","):
        x = (rng.standard_normal(n) * 3).astype(dt)
        g = rng.standard_normal(n).astype(dt)
        out = np.empty_like(x)
        for fn in functions.split(","):
            ours, ref = _contenders(fn, x, g, out)
            times = {k: [] for k in ("torch", *ours)}
            for _ in range(3):
                times["torch"].append(_median_time(ref))
                for k, f in ours.items():
                    times[k].append(_median_time(f))
            tt = np.median(times["torch"])
            ratios = "  ".join(f"{k} {np.median(times[k]) / tt:.3f}" for k in ours)
            print(f"{fn:14s} {dt} n={n:.0e} torch {tt / n * 1e9:.3f} ns/el  {ratios}", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
