"""fastact's Cython backend beside PyTorch on bands of x, float32, one thread: ns per element
(fastact / PyTorch) of gelu_tanh, sigmoid, silu' and tanh'.

    python bench/subnormal_bands_torch.py

docs/tuning.md, "Subnormal intermediates".
"""
import timeit

import torch  # first: its libgomp keeps PyTorch's own wait policy

import numpy as np

import fastact

N = 1 << 15
CASES = {
    "gelu_tanh fwd": (lambda x, g, o: fastact.gelu(x, approximate="tanh", out=o),
                      lambda tx, tg, to: torch.nn.functional.gelu(tx, approximate="tanh")),
    "gelu_tanh bwd": (lambda x, g, o: fastact.backward("gelu", g, x, approximate="tanh", out=o),
                      lambda tx, tg, to: torch.ops.aten.gelu_backward(tg, tx, approximate="tanh")),
    "sigmoid fwd": (lambda x, g, o: fastact.sigmoid(x, out=o),
                    lambda tx, tg, to: torch.sigmoid(tx, out=to)),
    "silu bwd": (lambda x, g, o: fastact.backward("silu", g, x, out=o),
                 lambda tx, tg, to: torch.ops.aten.silu_backward(tg, tx)),
    "tanh bwd": (lambda x, g, o: fastact.backward("tanh", g, x, out=o),
                 lambda tx, tg, to: torch.ops.aten.tanh_backward(tg, torch.tanh(tx))),
}


def ns_per_element(fn, calls=20):
    return min(timeit.repeat(fn, number=calls, repeat=5)) / calls / N * 1e9


torch.set_num_threads(1)
with fastact.threads(1), fastact.use_backend("cython"):
    for lo, hi in [(-3, 3), (-12, -8), (8, 24), (-45, -30), (-110, -85)]:
        x = np.random.default_rng(0).uniform(lo, hi, N).astype(np.float32)
        g, o = np.ones_like(x), np.empty_like(x)
        tx, tg, to = map(torch.from_numpy, (x, g, o))
        cells = [f"{name} {ns_per_element(lambda: f(x, g, o)):.2f}/"
                 f"{ns_per_element(lambda: p(tx, tg, to)):.2f}" for name, (f, p) in CASES.items()]
        print(f"[{lo},{hi}] " + " | ".join(cells), flush=True)
