"""The Numba gated kernels on the extension's work pool or on Numba's own driver (the
threading layer), interleaved in one process, beside the Cython kernels and PyTorch's
composite on the same arrays.

    python bench/gated_pool_ab.py [shape=24x4096] [rounds=15] [threads=2]

x of the shape is split along its last axis (gate, up halves); out= preallocated.  Each
round times every case back to back, PyTorch first, 200 calls each (after 3 ms of settling
calls), the pool and the own driver in turn first; printed: the median over the rounds of
the time per call, us.  "numba pool" and "numba own" are the
backend's Strided kernel (``fastact._numba.get_gated``) with ``WORK_POOL`` True and False;
"numba public" and "cython public" the public call (dispatch included).
"""
import statistics
import sys
import time

import numpy as np

import fastact
import fastact._numba as nb
from fastact import _backends
from fastact._fused import Strided
from fastact._registry import BY_NAME, GATED_BY_NAME

UNITS = ("glu", "reglu", "geglu", "swiglu")


def _per_call(fn, n=200, settle=0.003):
    """Seconds per call of n calls, after ``settle`` seconds of calls (another library's
    spinning OpenMP workers, or sleeping pool helpers, settle meanwhile)."""
    end = time.perf_counter() + settle
    while time.perf_counter() < end:
        fn()
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t) / n


def _cases(shape, dtype, threads):
    torch = None
    try:
        import torch
        torch.set_num_threads(threads)
    except ImportError:
        pass
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    rows, n2 = shape
    m = n2 // 2
    out = np.empty((rows, m), dtype)
    flat = x.reshape(-1)
    cy = _backends.resolve("cython")
    for name in UNITS:
        spec = GATED_BY_NAME[name]
        kid, params = BY_NAME[spec.activation].resolve(BY_NAME[spec.activation]._default_values)
        ins = (Strided(flat, spec.gate_half * m, n2), Strided(flat, (1 - spec.gate_half) * m, n2))
        outs = (Strided(out.reshape(-1), 0, m),)
        numba_k, cy_k = nb.get_gated(kid, "forward"), cy.get_gated(kid, "forward")
        fn = getattr(fastact, name)

        def pool(k=numba_k, ins=ins, outs=outs, params=params):
            nb.WORK_POOL = True
            k(outs, ins, rows, m, params, threads)

        def own(k=numba_k, ins=ins, outs=outs, params=params):
            nb.WORK_POOL = False
            k(outs, ins, rows, m, params, threads)
            nb.WORK_POOL = True

        cases = {"numba pool": pool, "numba own": own,
                 "cython kernel": lambda k=cy_k, ins=ins, outs=outs, p=params:
                 k(outs, ins, rows, m, p, threads),
                 "numba public": lambda fn=fn: fn(x, out=out, backend="numba"),
                 "cython public": lambda fn=fn: fn(x, out=out, backend="cython")}
        if torch is not None:
            F = torch.nn.functional
            tx, to = torch.from_numpy(x), torch.from_numpy(out)
            a, b = tx[:, :m], tx[:, m:]
            act = {"glu": None, "reglu": F.relu, "geglu": F.gelu, "swiglu": F.silu}[name]
            cases["torch"] = ((lambda: torch.ops.aten.glu.out(tx, -1, out=to)) if act is None
                              else (lambda a=a, b=b, act=act: torch.mul(act(a), b, out=to)))
        yield f"{name} {dtype}", cases


def main():
    shape = tuple(int(v) for v in (sys.argv[1] if len(sys.argv) > 1 else "24x4096").split("x"))
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 15
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    fastact.set_num_threads(threads)
    table = {}
    for dtype in ("float32", "float64"):
        for label, cases in _cases(shape, dtype, threads):
            times = {k: [] for k in cases}
            order = list(cases)  # PyTorch first: its spinning workers settle before ours
            order.sort(key=lambda k: k != "torch")
            for r in range(rounds):
                if r:  # pool and own driver take turns going first
                    order[order.index("numba pool")], order[order.index("numba own")] = \
                        "numba own", "numba pool"
                for k in order:
                    times[k].append(_per_call(cases[k]))
            table[label] = {k: statistics.median(v) * 1e6 for k, v in times.items()}
    keys = list(next(iter(table.values())))
    print(f"{'us per call ' + 'x'.join(map(str, shape)):22s}" + "".join(f"{k:>15s}" for k in keys))
    for label, row in table.items():
        print(f"{label:22s}" + "".join(f"{row[k]:15.1f}" for k in keys))


if __name__ == "__main__":
    main()
