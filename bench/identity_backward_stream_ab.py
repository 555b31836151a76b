"""identity's backward (from x and from y) with plain and with streaming stores, against
PyTorch's copy of grad on the same arrays (what its identity backward does).

    python bench/identity_backward_stream_ab.py [n=1e7]

Both compiled backends, float32 and float64, 2 threads, out= preallocated; the streaming
thresholds (``_kernels._set_stream_min``, ``_numba.STREAM_MIN_BYTES``) set to 0 or to
infinity around each call; 15
rounds, every variant once per round in alternating order (a warm-up call before each
timed one); printed: each variant's median time over PyTorch's.
"""
import sys
import time

import numpy as np
import torch

import fastact
from fastact import _kernels as K
from fastact import _numba as N


def _with_stream(on, call):
    def run():
        K._set_stream_min(0 if on else 1 << 62)
        N.STREAM_MIN_BYTES = 0 if on else 1 << 62
        call()
    return run


def main():
    n = int(float(sys.argv[1])) if len(sys.argv) > 1 else 10_000_000
    torch.set_num_threads(2)
    fastact.set_num_threads(2)
    rng = np.random.default_rng(0)
    default, numba_default = K._set_stream_min(1 << 62), N.STREAM_MIN_BYTES
    try:
        for dt in (np.float32, np.float64):
            x = (rng.standard_normal(n) * 3).astype(dt)
            g = rng.standard_normal(n).astype(dt)
            out, y = np.empty_like(x), x.copy()
            tg, to = torch.from_numpy(g), torch.from_numpy(out)
            variants = {"torch copy": lambda: to.copy_(tg)}
            for be in ("cython", "numba"):
                fb = (lambda be=be: fastact.backward("identity", g, x, out=out, backend=be))
                fy = (lambda be=be: fastact.backward("identity", g, y=y, out=out, backend=be))
                for label, call in (("bwd", fb), ("bwd_y", fy)):
                    variants[f"{be} {label} plain"] = _with_stream(False, call)
                    variants[f"{be} {label} stream"] = _with_stream(True, call)
            times = {k: [] for k in variants}
            for r in range(15):
                for k, f in (variants.items() if r % 2 else reversed(list(variants.items()))):
                    f()
                    t = time.perf_counter()
                    f()
                    times[k].append(time.perf_counter() - t)
            ref = np.median(times["torch copy"])
            print(f"{np.dtype(dt).name} {n:.0e}: torch copy {ref * 1e3:.3f} ms; " + ", ".join(
                f"{k} {np.median(v) / ref:.2f}" for k, v in times.items() if k != "torch copy"))
    finally:
        K._set_stream_min(default)
        N.STREAM_MIN_BYTES = numba_default


if __name__ == "__main__":
    main()
