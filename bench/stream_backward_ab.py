"""Interleaved A/B of streaming stores for the transcendental backward loops from x (three
streams: x, grad, out), both backends (the Numba chunks run on the extension's pool, which
applies the extension's stream policy), PyTorch on the same arrays.

    python bench/stream_backward_ab.py [size=1e7] [functions] [dtypes] [rounds=15]

"plain": the shipped policy (transcendental loops never stream); "stream": streaming stores
at any size (``_set_stream_min(0)`` and ``_set_stream_transcendental(True)``).  x ~ N(0, 3^2),
grad ~ N(0, 1), out preallocated, 2 threads; each round times every variant once (best of 3
calls), shuffled; prints medians and ratios to PyTorch.
"""
import sys

import numpy as np

import fastact
from fastact import _cython

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from peer_rows_ab import _torch_call, interleaved  # noqa: E402


def main(size="1e7", functions="celu,selu,silu,swish,softplus", dtypes="float32,float64",
         rounds="15"):
    import torch

    fastact.set_num_threads(2)
    torch.set_num_threads(2)
    mod = _cython._module
    stream_min = mod._set_stream_min(1 << 62)
    mod._set_stream_min(stream_min)
    n = int(float(size))
    rng = np.random.default_rng(0)

    def variant(backend, on, x, g, o, name):
        def run():
            mod._set_stream_min(0 if on else stream_min)
            mod._set_stream_transcendental(on)
            fastact.backward(name, g, x, out=o, backend=backend)
        return run

    for dtype in dtypes.split(","):
        x = (rng.standard_normal(n) * 3).astype(dtype)
        g = rng.standard_normal(n).astype(dtype)
        o = np.empty_like(x)
        for name in functions.split(","):
            calls = {f"{b}_{'stream' if on else 'plain'}": variant(b, on, x, g, o, name)
                     for b in ("numba", "cython") for on in (False, True)}
            calls["torch"] = _torch_call(name, "backward", x, g, o)
            med = interleaved(calls, int(rounds), 3)
            t = med["torch"]
            print(f"{name}_backward {dtype} torch {t * 1e3:.2f} ms  " + "  ".join(
                f"{k} {v / t:.2f}" for k, v in med.items() if k != "torch"), flush=True)
    mod._set_stream_min(stream_min)
    mod._set_stream_transcendental(False)


if __name__ == "__main__":
    main(*sys.argv[1:])
