"""The fused operations' bars, measured interleaved in one process.

    python bench/fused_bars.py [--backend cython] [--threads 2] [--rounds 21]

On (8192, 4096) float32: ``gelu(x, bias=b)`` against ``np.add(x, b, out=t);
fastact.gelu(t, out=t)`` and against a plain ``fastact.gelu(x)``; ``swiglu(gate, up)``
against PyTorch's ``F.silu(gate) * up`` (allocating, as users write it) and against a
read-two-write-one pass over the same bytes (``np.add(gate, up, out=o)`` split over
the threads, the roofline of the op).  Each round runs every contender once, in
rotating order; printed: the median time of each and the median over the rounds of
each ratio.
"""
import argparse
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

import fastact

SHAPE = (8192, 4096)


def _threaded_add(pool, n_threads):
    """out = a + b on n_threads row chunks (NumPy releases the GIL): a multi-threaded
    read-two-write-one pass."""
    def run(a, b, out):
        chunks = np.array_split(np.arange(a.shape[0]), n_threads)
        list(pool.map(lambda c: np.add(a[c[0]:c[-1] + 1], b[c[0]:c[-1] + 1],
                                       out=out[c[0]:c[-1] + 1]), chunks))
    return run


def contenders(backend, n_threads, pool):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(SHAPE) * 3).astype(np.float32)
    up = rng.standard_normal(SHAPE).astype(np.float32)
    b = rng.standard_normal(SHAPE[1]).astype(np.float32)
    out, t = np.zeros_like(x), np.zeros_like(x)
    add = _threaded_add(pool, n_threads)
    c = {
        "gelu(x, bias=b)": lambda: fastact.gelu(x, bias=b, out=out, backend=backend),
        "add + gelu in place": lambda: (np.add(x, b, out=t),
                                        fastact.gelu(t, out=t, backend=backend)),
        "gelu(x)": lambda: fastact.gelu(x, out=out, backend=backend),
        "swiglu(gate, up)": lambda: fastact.swiglu(x, up, out=out, backend=backend),
        "read-2-write-1 (threaded add)": lambda: add(x, up, out),
        "silu(gate) alone": lambda: fastact.silu(x, out=out, backend=backend),
    }
    try:
        import torch

        torch.set_num_threads(n_threads)
        F = torch.nn.functional
        tg, tu = torch.from_numpy(x), torch.from_numpy(up)
        c["torch F.silu(gate) * up"] = lambda: F.silu(tg) * tu
    except ImportError:
        pass
    return c


RATIOS = [("gelu(x, bias=b)", "add + gelu in place", 0.6),
          ("gelu(x, bias=b)", "gelu(x)", 1.3),
          ("swiglu(gate, up)", "torch F.silu(gate) * up", 0.7),
          ("swiglu(gate, up)", "read-2-write-1 (threaded add)", 1.2)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="cython")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=21)
    ns = parser.parse_args()
    fastact.set_num_threads(ns.threads)
    with ThreadPoolExecutor(ns.threads) as pool:
        calls = contenders(ns.backend, ns.threads, pool)
        names = list(calls)
        for fn in calls.values():  # compile, fault in pages
            fn()
            fn()
        times = {n: [] for n in names}
        for r in range(ns.rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            for n in order:
                t0 = time.perf_counter()
                calls[n]()
                times[n].append(time.perf_counter() - t0)
    print(f"backend={ns.backend} threads={ns.threads} rounds={ns.rounds} shape={SHAPE} float32")
    for n in names:
        print(f"  {n:32s} {np.median(times[n]) * 1e3:8.2f} ms")
    for a, b, bar in RATIOS:
        if a in times and b in times:
            ratio = float(np.median(np.array(times[a]) / np.array(times[b])))
            print(f"  {a} / {b}: {ratio:.2f} (bar <= {bar}) {'ok' if ratio <= bar else 'MISSED'}")


if __name__ == "__main__":
    main()
