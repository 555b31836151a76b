"""swish at beta = 1 against silu, one thread, CPU time per element (time.thread_time).

    python bench/swish_silu_ab.py [n=1e6] [rounds=9]

Interleaved in one process, medians over the rounds, float32 and float64, numba and
cython: the public swish(x, beta=1.0) and silu(x) (forward and backward), the general
swish kernel called at beta = 1 (what swish ran before the registry's SameAs rule), and
PyTorch's F.silu and torch.ops.aten.silu_backward on the same arrays.
"""
import sys, time
import numpy as np, torch, fastact
from fastact import _backends
fastact.set_num_threads(1); torch.set_num_threads(1)
n = int(float(sys.argv[1])) if len(sys.argv) > 1 else 10**6
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 9
rng = np.random.default_rng(0)
res = {}
for dt in (np.float32, np.float64):
    x = (rng.standard_normal(n) * 4).astype(dt); g = rng.standard_normal(n).astype(dt)
    out = np.empty_like(x)
    calls = {}
    for be in ("numba", "cython"):
        B = _backends.resolve(be)
        for mode in ("forward", "backward"):
            gg = g if mode == "backward" else None
            kg = B.get_elementwise("swish", mode)
            calls[f"{be} {mode} swish-general"] = lambda kg=kg, gg=gg: kg(out, x, gg, (1.0,), 1)
        calls[f"{be} forward swish(beta=1)"] = lambda be=be: fastact.swish(x, beta=1.0, out=out, backend=be)
        calls[f"{be} forward silu"] = lambda be=be: fastact.silu(x, out=out, backend=be)
        calls[f"{be} backward swish(beta=1)"] = lambda be=be: fastact.backward("swish", g, x, beta=1.0, out=out, backend=be)
        calls[f"{be} backward silu"] = lambda be=be: fastact.backward("silu", g, x, out=out, backend=be)
    tx, tg = torch.from_numpy(x), torch.from_numpy(g); to = torch.from_numpy(out)
    calls["torch forward silu"] = lambda: torch.nn.functional.silu(tx)
    calls["torch backward silu"] = lambda: torch.ops.aten.silu_backward(tg, tx)
    for f in calls.values(): f()
    t = {k: [] for k in calls}
    names = list(calls)
    for r in range(rounds):
        for k in names[r % len(names):] + names[:r % len(names)]:
            t0 = time.thread_time(); calls[k](); t[k].append(time.thread_time() - t0)
    for k in names:
        print(f"{np.dtype(dt).name:8s} {k:32s} {np.median(t[k]) / n * 1e9:6.3f} ns/el")
