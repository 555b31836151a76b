"""Softmax-family rows against PyTorch and the read-two-write-one floor, interleaved in one
process on the same arrays.

    python bench/softmax_rows_ab.py [--rounds 15] [--calls 20] [--threads 2]
        [--rows op:dtype:RxN,...] [--variants numba,cython,torch,floor]

Each round times every variant as the best of ``--calls`` calls (arrays stay in cache, as
in ``fastact bench``), in a shuffled order; prints the medians and the ratios to PyTorch
(forward ops) or to the floor ``np.add(y, g, out=o)`` (backward ops), else to the first
variant.  x ~ N(0, 1), out
preallocated; the backward ops take y = softmax(x) (log_softmax for its backward).
"""
from __future__ import annotations

import argparse

import numpy as np

from peer_rows_ab import interleaved

ROWS = ("log_softmax:float32:65536x16", "log_softmax:float32:16384x64",
        "log_softmax:float32:8192x128", "softmax:float32:65536x16", "softmax:float32:16384x64",
        "softmax_backward:float32:64x1000", "softmax_backward:float64:64x1000")


def _torch_call(op, x, g, out):
    import torch

    aten = torch.ops.aten
    tx, tg, to = torch.from_numpy(x), torch.from_numpy(g), torch.from_numpy(out)
    if op == "softmax":
        return lambda: aten._softmax.out(tx, 1, False, out=to)
    if op == "log_softmax":
        return lambda: aten._log_softmax.out(tx, 1, False, out=to)
    if op == "logsumexp":
        to1 = torch.from_numpy(out[:, 0].copy())
        return lambda: torch.logsumexp(tx, 1, out=to1)
    if op == "softmax_backward":
        return lambda: aten._softmax_backward_data.out(tg, tx, 1, tx.dtype, grad_input=to)
    return lambda: aten._log_softmax_backward_data.out(tg, tx, 1, tx.dtype, out=to)


def variants(row, rng, names):
    import fastact

    op, dtype, shape = row.split(":")
    rows, n = (int(v) for v in shape.split("x"))
    x = rng.standard_normal((rows, n)).astype(dtype)
    backward = op.endswith("_backward")
    g = rng.standard_normal((rows, n)).astype(dtype)
    if backward:
        x = (fastact.log_softmax if op.startswith("log") else fastact.softmax)(x)
    out = np.empty((rows,) if op == "logsumexp" else (rows, n), dtype)
    f = getattr(fastact, op)
    calls = {}
    for b in ("numba", "cython"):
        if b in names:
            calls[b] = ((lambda b=b: f(g, x, out=out, backend=b)) if backward
                        else (lambda b=b: f(x, axis=1, out=out, backend=b)))
    if "torch" in names:
        calls["torch"] = _torch_call(op, x, g, out if op != "logsumexp" else np.empty((rows, 1), dtype))
    if "floor" in names and backward:
        calls["floor"] = lambda: np.add(x, g, out=out)
    base = "floor" if backward and "floor" in calls else "torch" if "torch" in calls else None
    return calls, base or next(iter(calls))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--calls", type=int, default=20)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rows", default=",".join(ROWS))
    p.add_argument("--variants", default="numba,cython,torch,floor")
    ns = p.parse_args()
    import fastact
    import torch

    fastact.set_num_threads(ns.threads)
    torch.set_num_threads(ns.threads)
    rng = np.random.default_rng(0)
    names = ns.variants.split(",")
    print(f"threads={ns.threads} rounds={ns.rounds} (median of best-of-{ns.calls})")
    for row in ns.rows.split(","):
        calls, base = variants(row, rng, names)
        med = interleaved(calls, ns.rounds, ns.calls)
        t = med[base]
        print(f"{row:34s} {base} {t * 1e6:8.1f} us  " + "  ".join(
            f"{k} {v / t:5.2f}" for k, v in med.items() if k != base) + "  (" + " ".join(
            f"{k} {v * 1e6:.1f}" for k, v in med.items() if k != base) + " us)", flush=True)


if __name__ == "__main__":
    main()
