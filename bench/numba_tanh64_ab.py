"""Interleaved A/B of the Numba float64 tanh loop: the shipped formula (``_vmath.tanh_f64n``,
the Cython backend's fa_tanh) against the previous one (``_vmath.vtanh``: expm1(2|x|) with
its selects), both compiled here as serial loops and as the backend's kernel, with the Cython
kernel and PyTorch on the same arrays.

    python bench/numba_tanh64_ab.py [sizes=1e5,1e7] [rounds=15]

x ~ N(0, 3^2), out preallocated; 1 thread for the loops (the per-element cost), 2 threads for
the public calls; medians of the rounds (each variant best of 3 calls, shuffled order).
"""
import sys

import numpy as np
from numba import njit

import fastact

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from peer_rows_ab import interleaved  # noqa: E402
from fastact._numba import _vmath


@njit(nogil=True, error_model="numpy")
def _loop_old(o, x):
    for i in range(x.shape[0]):
        v = x[i]
        o[i] = v if v != v else _vmath.vtanh(v, v)


@njit(nogil=True, error_model="numpy")
def _loop_new(o, x):
    for i in range(x.shape[0]):
        v = x[i]
        o[i] = v if v != v else _vmath.tanh_f64n(v)


def main(sizes="1e5,1e7", rounds="15"):
    import torch

    fastact.set_num_threads(2)
    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    for n in (int(float(s)) for s in sizes.split(",")):
        x = rng.standard_normal(n) * 3.0
        out = np.empty_like(x)
        tx, to = torch.from_numpy(x), torch.from_numpy(out)
        calls = {"loop_old_1t": lambda: _loop_old(out, x), "loop_new_1t": lambda: _loop_new(out, x),
                 "numba": lambda: fastact.tanh(x, out=out, backend="numba"),
                 "cython": lambda: fastact.tanh(x, out=out, backend="cython"),
                 "torch": lambda: torch.tanh(tx, out=to)}
        med = interleaved(calls, int(rounds), 3)
        print(f"n={n}: " + "  ".join(f"{k} {v * 1e3:.3f} ms" for k, v in med.items())
              + f"  | numba/torch {med['numba'] / med['torch']:.2f}"
              f" cython/torch {med['cython'] / med['torch']:.2f}"
              f" old/new loop {med['loop_old_1t'] / med['loop_new_1t']:.2f}", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
