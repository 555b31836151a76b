"""gelu, gelu' and gelu_backward, one thread, CPU time per element (time.thread_time).

    python bench/gelu_thread_time.py [n=1e6] [rounds=9] [dtype=float64]

x ~ N(0, 3^2); fastact's numba and cython backends (out= preallocated for the forward) and
PyTorch's F.gelu and aten.gelu_backward on the same arrays (torch optional), interleaved in
one process: each round times 3 calls of every contender in turn; medians over the rounds.
Against another build: PYTHONPATH=<its checkout> python bench/gelu_thread_time.py.
"""
import sys
import time

import numpy as np

import fastact

n = int(float(sys.argv[1])) if len(sys.argv) > 1 else 10**6
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 9
dtype = np.dtype(sys.argv[3] if len(sys.argv) > 3 else "float64")
fastact.set_num_threads(1)
x = np.random.default_rng(0).normal(0.0, 3.0, n).astype(dtype)
g = np.ones(n, dtype)
out = np.empty(n, dtype)
calls = {}
for be in ("cython", "numba"):
    calls[f"{be} forward"] = lambda be=be: fastact.gelu(x, out=out, backend=be)
    calls[f"{be} derivative"] = lambda be=be: fastact.derivative("gelu", x, backend=be)
    calls[f"{be} backward"] = lambda be=be: fastact.backward("gelu", g, x, backend=be)
try:
    import torch
except ImportError:
    torch = None
if torch is not None:
    torch.set_num_threads(1)
    tx, tg = torch.from_numpy(x), torch.from_numpy(g)
    calls["torch forward"] = lambda: torch.nn.functional.gelu(tx)
    calls["torch backward"] = lambda: torch.ops.aten.gelu_backward(tg, tx)
times = {k: [] for k in calls}
for f in calls.values():
    f()
for _ in range(rounds):
    for k, f in calls.items():
        t0 = time.thread_time()
        for _ in range(3):
            f()
        times[k].append((time.thread_time() - t0) / 3 / n * 1e9)
print(f"fastact {fastact.__file__}; {dtype}, n = {n}, {rounds} rounds; ns per element, "
      "median (min)")
for k, v in times.items():
    print(f"  {k:18s} {np.median(v):6.2f} ({min(v):.2f})")
