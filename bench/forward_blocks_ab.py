"""Interleaved A/B of the Cython forward loops of FORWARD_BLOCKS_KERNEL_IDS: the policy
(prefetched write blocks from CYTHON_FORWARD_BLOCKS_MIN_BYTES of arrays on, "P") against one
loop call a chunk at every size ("U"), on the public calls, with PyTorch on the same arrays.

    python bench/forward_blocks_ab.py [sizes=1e5,3e6,1e7] [functions] [dtypes] [rounds=15]

x ~ N(0, 3^2), out = np.empty_like(x) (its page offset is x's), 2 threads; each round times
P, U and torch once each (best of 3 calls) in a shuffled order; prints the medians.
"""
import random
import statistics
import sys
import time

import numpy as np

import fastact
from fastact import _cython

TORCH = {"gelu": "gelu", "softplus": "softplus", "mish": "mish", "logsigmoid": "log_sigmoid",
         "tanhshrink": None}


def _torch(name, x, out):
    import torch

    tx, to = torch.from_numpy(x), torch.from_numpy(out)
    F = torch.nn.functional
    if name == "tanhshrink":
        return lambda: torch.sub(tx, torch.tanh(tx), out=to)
    if name == "logsigmoid":
        return lambda: F.logsigmoid(tx)
    op = getattr(torch.ops.aten, TORCH[name])
    return lambda: op.out(tx, out=to)


def main(sizes="1e5,3e6,1e7", functions="gelu,softplus,mish,logsigmoid,tanhshrink",
         dtypes="float32,float64", rounds="15"):
    import torch

    fastact.set_num_threads(2)
    torch.set_num_threads(2)
    mod = _cython._module
    policy = mod._set_forward_blocks_min(1 << 62)
    mod._set_forward_blocks_min(policy)
    rng = np.random.default_rng(0)
    for dtype in dtypes.split(","):
        for n in (int(float(s)) for s in sizes.split(",")):
            x = (rng.standard_normal(n) * 3).astype(dtype)
            out = np.empty_like(x)
            for name in functions.split(","):
                f = getattr(fastact, name)
                call = lambda: f(x, out=out, backend="cython")

                def with_min(v):
                    def run():
                        mod._set_forward_blocks_min(v)
                        call()
                    return run
                calls = {"P": with_min(policy), "U": with_min(1 << 62), "torch": _torch(name, x, out)}
                times = {k: [] for k in calls}
                for fn in calls.values():
                    fn()
                for _ in range(int(rounds)):
                    order = list(calls)
                    random.shuffle(order)
                    for k in order:
                        best = float("inf")
                        for _ in range(3):
                            t0 = time.perf_counter()
                            calls[k]()
                            best = min(best, time.perf_counter() - t0)
                        times[k].append(best)
                med = {k: statistics.median(v) for k, v in times.items()}
                print(f"{dtype} {n:>9d} {name:10s} P {med['P'] * 1e3:8.3f} ms  U {med['U'] * 1e3:8.3f}"
                      f"  torch {med['torch'] * 1e3:8.3f}  U/P {med['U'] / med['P']:.2f}"
                      f"  P/torch {med['P'] / med['torch']:.2f}  U/torch {med['U'] / med['torch']:.2f}",
                      flush=True)
    mod._set_forward_blocks_min(policy)


if __name__ == "__main__":
    main(*sys.argv[1:])
