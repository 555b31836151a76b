"""One build's elementwise kernels, loaded by path, beside PyTorch's in one process.

    python bench/elementwise_build_ab.py fastact/_isa/x86_64_v4/_kernels*.so [rounds=5]

The extension's ElementwiseKernel objects (no dispatch) for relu, hardtanh's backward,
identity's backward and sigmoid, 2 threads, float32 and float64 at 3e4, 1e5 and 3e5
elements, round-robin with PyTorch's kernels on the same arrays (``measure_many``); printed:
the median over rounds, us per call, and (time / PyTorch's).  Run it once per build and
round, alternating, to compare two builds (copy each build's extension aside).
docs/tuning.md, "The work pool's done count and its idle helpers' polling".
"""
import importlib.util, statistics, sys
import numpy as np
import torch
from fastact._bench.timing import measure_many, Policy
torch.set_num_threads(2)
spec = importlib.util.spec_from_file_location("fastact._kernels", sys.argv[1])
K = importlib.util.module_from_spec(spec); sys.modules["fastact._kernels"] = K; spec.loader.exec_module(K)
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
pol = Policy(budget=0.03, min_repeats=3, min_sample=5e-4, slow_call=0.05)
A = torch.ops.aten
cases = {
    "relu": ("relu", "forward", (), lambda t: torch.clamp_min(t["x"], 0, out=t["o"])),
    "hardtanh_bw": ("hardtanh", "backward", (-1.0, 1.0), lambda t: A.hardtanh_backward.grad_input(t["g"], t["x"], -1, 1, grad_input=t["o"])),
    "identity_bw": ("identity", "backward", (), lambda t: t["o"].copy_(t["g"])),
    "sigmoid": ("sigmoid", "forward", (), lambda t: torch.sigmoid(t["x"], out=t["o"])),
}
for dt in ("float32", "float64"):
    for n in (30_000, 100_000, 300_000):
        rng = np.random.default_rng(0)
        x = (rng.standard_normal(n) * 3).astype(dt); g = rng.standard_normal(n).astype(dt); out = np.empty_like(x)
        t = {"x": torch.from_numpy(x), "g": torch.from_numpy(g), "o": torch.from_numpy(out)}
        fns = {}
        for key, (kid, mode, prm, tf) in cases.items():
            k = K.ElementwiseKernel(kid, mode)
            gg = g if mode != "forward" else None
            fns[key] = (lambda k=k, gg=gg, prm=prm: k(out, x, gg, prm, 2))
            fns[key + "/torch"] = (lambda tf=tf: tf(t))
        res = [measure_many(fns, pol) for _ in range(rounds)]
        med = {k: statistics.median(r[k].median_s for r in res) * 1e6 for k in fns}
        print(dt, n, " ".join(f"{k} {med[k]:.2f} ({med[k]/med[k + '/torch']:.3f})" for k in cases), flush=True)
