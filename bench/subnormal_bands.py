"""Each smooth activation's forward and backward on bands of x, one thread: ns per element on
[-3, 3] and the slowest band's factor over it (where a formula's intermediates or results are
subnormal, its vector instructions take microcode assists).

    python bench/subnormal_bands.py [float32|float64] [cython|numba] [names]

docs/tuning.md, "Subnormal intermediates".
"""
import sys
import timeit

import numpy as np

import fastact
from fastact import _registry

BANDS = {
    "float32": [(-3, 3), (-12, -8), (8, 24), (-20, -12), (-45, -30), (-90, -60), (-110, -85), (60, 110)],
    "float64": [(-3, 3), (-40, -25), (-300, -200), (-760, -700), (-1000, -740), (700, 760)],
}
N = 1 << 15


def ns_per_element(fn, calls=20):
    return min(timeit.repeat(fn, number=calls, repeat=5)) / calls / N * 1e9


def main(dtype="float32", backend="cython", names=None):
    names = names.split(",") if names else [a.name for a in _registry.ACTIVATIONS if a.smooth]
    print(f"ns per element on [-3, 3], slowest band / [-3, 3]: {dtype} {backend}")
    with fastact.threads(1):
        for name in names:
            act, cells = fastact.get(name), []
            for mode in ("forward", "backward"):
                times = {}
                for lo, hi in BANDS[dtype]:
                    x = np.random.default_rng(0).uniform(lo, hi, N).astype(dtype)
                    g, out = np.ones_like(x), np.empty_like(x)
                    call = ((lambda: act.forward(x, out=out, backend=backend)) if mode == "forward"
                            else (lambda: act.backward(g, x, out=out, backend=backend)))
                    times[(lo, hi)] = ns_per_element(call)
                base = times.pop((-3, 3))
                band = max(times, key=times.get)
                cells.append(f"{mode} {base:.2f} ns x{times[band] / base:.1f} {band}")
            print(f"{name:12s}", " | ".join(cells), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
