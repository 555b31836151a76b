"""The fused operations' bars, measured interleaved in one process.

    python bench/fused_bars.py [--backend cython] [--threads 2] [--rounds 21] [--group all]

On (8192, 4096) float32: ``gelu(x, bias=b)`` against ``np.add(x, b, out=t);
fastact.gelu(t, out=t)`` and against a plain ``fastact.gelu(x)``; ``swiglu(gate, up)``
against PyTorch's ``F.silu(gate) * up`` (allocating, as users write it) and against a
read-two-write-one pass over the same bytes (``np.add(gate, up, out=o)`` split over
the threads, the roofline of the op).  Group "losses": ``cross_entropy`` on
(256, 50257) and (4096, 2048) float32 (forward against fastact's ``logsumexp``,
forward and gradient against PyTorch's ``F.cross_entropy`` forward plus backward),
and ``binary_cross_entropy_with_logits`` with its gradient on 1e7 float32 against
PyTorch's forward plus backward.  Each ratio is measured on its own: its two
contenders alternate, once each per round (nothing else runs in between, so neither
inherits the state another contender leaves); printed: each contender's median time
(from the first ratio it is in; those in none: measured together) and the median over
the rounds of each ratio.
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


def fused_contenders(backend, n_threads, pool):
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


def _torch_backward(loss_fn, x, *args):
    """PyTorch's loss forward plus autograd backward on logits x (a leaf tensor)."""
    def run():
        x.grad = None
        loss_fn(x, *args).backward()
    return run


def loss_contenders(backend, n_threads, pool):
    rng = np.random.default_rng(1)
    c = {}
    try:
        import torch

        torch.set_num_threads(n_threads)
        F = torch.nn.functional
    except ImportError:
        torch = None
    for rows, n in ((256, 50257), (4096, 2048)):
        x = rng.standard_normal((rows, n), dtype=np.float32) * 3
        t = rng.integers(0, n, rows)
        g = np.empty_like(x)
        tag = f"{rows}x{n}"
        c[f"ce {tag}"] = lambda x=x, t=t: fastact.cross_entropy(x, t, backend=backend)
        c[f"logsumexp {tag}"] = lambda x=x: fastact.logsumexp(x, axis=-1, backend=backend)
        c[f"ce+grad {tag}"] = lambda x=x, t=t, g=g: fastact.cross_entropy(
            x, t, return_grad=True, out=g, backend=backend)
        if torch is not None:
            c[f"torch ce fwd+bwd {tag}"] = _torch_backward(
                F.cross_entropy, torch.from_numpy(x).requires_grad_(), torch.from_numpy(t))
    x = rng.standard_normal(10**7, dtype=np.float32) * 3
    y = (rng.random(10**7) < 0.5).astype(np.float32)
    c["bce+grad 1e7"] = lambda: fastact.binary_cross_entropy_with_logits(
        x, y, return_grad=True, backend=backend)
    if torch is not None:
        c["torch bce fwd+bwd 1e7"] = _torch_backward(
            F.binary_cross_entropy_with_logits, torch.from_numpy(x).requires_grad_(),
            torch.from_numpy(y))
    return c


RATIOS = [("ce 256x50257", "logsumexp 256x50257", 1.0),
          ("ce 4096x2048", "logsumexp 4096x2048", 1.0),
          ("ce+grad 256x50257", "torch ce fwd+bwd 256x50257", 0.5),
          ("ce+grad 4096x2048", "torch ce fwd+bwd 4096x2048", 0.5),
          ("bce+grad 1e7", "torch bce fwd+bwd 1e7", 0.6),
("gelu(x, bias=b)", "add + gelu in place", 0.6),
          ("gelu(x, bias=b)", "gelu(x)", 1.3),
          ("swiglu(gate, up)", "torch F.silu(gate) * up", 0.7),
          ("swiglu(gate, up)", "read-2-write-1 (threaded add)", 1.2)]


def _measure(calls, rounds):
    """{name: [seconds per round]}: every contender once per round, in rotating order."""
    names = list(calls)
    for fn in calls.values():  # compile, fault in pages
        fn()
        fn()
    times = {n: [] for n in names}
    for r in range(rounds):
        for n in names[r % len(names):] + names[:r % len(names)]:
            t0 = time.perf_counter()
            calls[n]()
            times[n].append(time.perf_counter() - t0)
    return times


GROUPS = {"fused": fused_contenders, "losses": loss_contenders}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="cython")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--group", choices=("all", *GROUPS), default="all")
    ns = parser.parse_args()
    fastact.set_num_threads(ns.threads)
    times, ratios = {}, []
    with ThreadPoolExecutor(ns.threads) as pool:
        for group, make in GROUPS.items():
            if ns.group not in ("all", group):
                continue
            calls = make(ns.backend, ns.threads, pool)
            for a, b, bar in RATIOS:  # a pair at a time: a contender timed straight after
                if a in calls and b in calls:  # a PyTorch call is the slower one
                    pair = _measure({a: calls[a], b: calls[b]}, ns.rounds)
                    for n in (a, b):
                        times.setdefault(n, pair[n])
                    ratios.append((a, b, bar, np.median(np.array(pair[a]) / np.array(pair[b]))))
            rest = {n: fn for n, fn in calls.items() if n not in times}  # in no ratio
            times.update(_measure(rest, ns.rounds) if rest else {})
    print(f"backend={ns.backend} threads={ns.threads} rounds={ns.rounds} float32")
    for n, t in times.items():
        print(f"  {n:32s} {np.median(t) * 1e3:8.2f} ms")
    for a, b, bar, ratio in ratios:
        print(f"  {a} / {b}: {ratio:.2f} (bar <= {bar}) {'ok' if ratio <= bar else 'MISSED'}")


if __name__ == "__main__":
    main()
