"""A hash of every smooth activation's forward and derivative (defaults and the registry's
examples) over dense grids that cross the subnormal bands, per backend and dtype: run it with
two builds and diff the output to see which kernels changed bits.

    python bench/elementwise_bits.py [cython,numba] > new.txt
    PYTHONPATH=<a built checkout> python bench/elementwise_bits.py [cython,numba] > old.txt
    diff old.txt new.txt
"""
import hashlib
import sys

import numpy as np

import fastact
from fastact import _registry

SPECIALS = [0.0, -0.0, np.inf, -np.inf, np.nan]
GRIDS = {
    "float32": np.concatenate([np.linspace(-130, 130, 2_000_001), np.linspace(-12, 12, 1_000_001),
                               SPECIALS, [1e-40, -1e-40, 3e38, -3e38]]),
    "float64": np.concatenate([np.linspace(-800, 800, 2_000_001), np.linspace(-40, 40, 1_000_001),
                               SPECIALS, [1e-310, -1e-310, 1e308, -1e308]]),
}


def main(backends="cython,numba"):
    for backend in backends.split(","):
        for entry in (a for a in _registry.ACTIVATIONS if a.smooth):
            for params in ({}, *entry.examples):
                act = fastact.get(entry.name, **params)
                for dtype, grid in GRIDS.items():
                    x = grid.astype(dtype)
                    for mode in ("forward", "derivative"):
                        y = act(x, backend=backend) if mode == "forward" else act.derivative(
                            x, backend=backend)
                        digest = hashlib.sha1(y.tobytes()).hexdigest()[:12]
                        print(backend, f"{entry.name}{params}-{dtype}-{mode}", digest, flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
