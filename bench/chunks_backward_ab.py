"""Interleaved A/B of the extension's chunks per thread (``_kernels._set_chunks_per_thread``)
on the backward rows from x, both backends (the Numba chunks run on the extension's pool),
PyTorch on the same arrays.

    python bench/chunks_backward_ab.py [size=1e7] [functions] [dtypes] [chunks=8,2,1] [rounds=15]
"""
import sys

import numpy as np

import fastact
from fastact import _cython

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from peer_rows_ab import _torch_call, interleaved  # noqa: E402


def main(size="1e7", functions="celu,selu,silu,softplus", dtypes="float32", chunks="8,2,1",
         rounds="15"):
    import torch

    fastact.set_num_threads(2)
    torch.set_num_threads(2)
    mod = _cython._module
    default = mod._set_chunks_per_thread(8)
    mod._set_chunks_per_thread(default)
    n = int(float(size))
    rng = np.random.default_rng(0)

    def variant(backend, c, x, g, o, name):
        def run():
            mod._set_chunks_per_thread(c)
            fastact.backward(name, g, x, out=o, backend=backend)
        return run

    for dtype in dtypes.split(","):
        x = (rng.standard_normal(n) * 3).astype(dtype)
        g = rng.standard_normal(n).astype(dtype)
        o = np.empty_like(x)
        for name in functions.split(","):
            calls = {f"{b}_c{c}": variant(b, int(c), x, g, o, name)
                     for b in ("numba", "cython") for c in chunks.split(",")}
            calls["torch"] = _torch_call(name, "backward", x, g, o)
            med = interleaved(calls, int(rounds), 3)
            t = med["torch"]
            print(f"{name}_backward {dtype} torch {t * 1e3:.2f} ms  " + "  ".join(
                f"{k} {v / t:.2f}" for k, v in med.items() if k != "torch"), flush=True)
    mod._set_chunks_per_thread(default)


if __name__ == "__main__":
    main(*sys.argv[1:])
