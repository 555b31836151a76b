"""gelu / gelu_tanh float32 past the caches: the read prefetch of the smooth loops.

    python bench/gelu_read_prefetch.py [threads=2] [sizes=1e5,1e7] [rounds=15] [dtype=float32]

Part 1 (the diagnosis, one thread): ns per element of the same 1e5 inputs cache-hot (a
1e5 array called repeatedly), as 1e5 chunks of a 1e7 array walked end to end (each chunk
comes from memory; below READ_PREFETCH_MIN_BYTES: the plain loops), and the 1e7 array in
one call.  Part 2: min / median ms of interleaved rounds, `out=` preallocated,
inputs N(0, 3^2), of fastact's cython and numba backends and PyTorch's
`gelu` / `gelu_backward` (torch.set_num_threads(threads)) on the same arrays.  Run it
against two builds (e.g. PYTHONPATH=<other checkout>) for a before/after.  docs/tuning.md.
"""
import sys
import time

import numpy as np
import torch

import fastact as fa


def best(f, rounds):
    t = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        f()
        t.append(time.perf_counter() - t0)
    return np.min(t), np.median(t)


def diagnosis(rng, dt):
    fa.set_num_threads(1)
    x7 = (rng.standard_normal(10**7) * 3).astype(dt)
    o7 = np.empty_like(x7)
    hot, ohot, c = x7[:10**5].copy(), np.empty(10**5, dt), 10**5
    for appr in ("none", "tanh"):
        for be in ("cython", "numba"):
            h = best(lambda: fa.gelu(hot, out=ohot, backend=be, approximate=appr), 30)[0]

            def walk():
                for i in range(0, x7.size, c):
                    fa.gelu(x7[i:i + c], out=o7[i:i + c], backend=be, approximate=appr)
            w = best(walk, 5)[0]
            a = best(lambda: fa.gelu(x7, out=o7, backend=be, approximate=appr), 5)[0]
            print(f"gelu({appr}) {be}: 1e5 hot {h / c * 1e9:.3f} ns/elt, "
                  f"1e5 chunks of 1e7 {w / x7.size * 1e9:.3f}, 1e7 in one call "
                  f"{a / x7.size * 1e9:.3f}", flush=True)


def peers(rng, th, sizes, rounds, dt):
    fa.set_num_threads(th)
    torch.set_num_threads(th)
    for n in sizes:
        x = (rng.standard_normal(n) * 3).astype(dt)
        g = rng.standard_normal(n).astype(dt)
        out = np.empty_like(x)
        tx, tg = torch.from_numpy(x), torch.from_numpy(g)
        to = torch.empty_like(tx)
        for appr in ("none", "tanh"):
            cands = {
                "cython": lambda: fa.gelu(x, out=out, backend="cython", approximate=appr),
                "numba": lambda: fa.gelu(x, out=out, backend="numba", approximate=appr),
                "torch": lambda: torch._C._nn.gelu(tx, approximate=appr, out=to),
                "cython bwd": lambda: fa.backward("gelu", g, x, out=out, backend="cython",
                                                  approximate=appr),
                "numba bwd": lambda: fa.backward("gelu", g, x, out=out, backend="numba",
                                                 approximate=appr),
                "torch bwd": lambda: torch.ops.aten.gelu_backward.grad_input(
                    tg, tx, approximate=appr, grad_input=to),
            }
            for c in cands.values():
                c()
            ts = {k: [] for k in cands}
            for _ in range(rounds):
                for k, c in cands.items():
                    t0 = time.perf_counter()
                    c()
                    ts[k].append(time.perf_counter() - t0)
            print(f"gelu({appr}) n={n:.0e} threads={th}: " + "  ".join(
                f"{k} {np.min(v) * 1e3:.3f}/{np.median(v) * 1e3:.3f}" for k, v in ts.items()),
                flush=True)


def main():
    a = sys.argv[1:]
    th = int(a[0]) if a else 2
    sizes = [int(float(s)) for s in (a[1] if len(a) > 1 else "1e5,1e7").split(",")]
    rounds = int(a[2]) if len(a) > 2 else 15
    dt = np.dtype(a[3] if len(a) > 3 else "float32").type
    rng = np.random.default_rng(0)
    diagnosis(rng, dt)
    peers(rng, th, sizes, rounds, dt)


if __name__ == "__main__":
    main()
