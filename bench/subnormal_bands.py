"""Each smooth activation's forward and backward on bands of x, one thread: ns per element on
[-3, 3] and the slowest band's factor over it (where a formula's intermediates or results are
subnormal, its vector instructions take microcode assists).

    python bench/subnormal_bands.py [float32|float64] [cython|numba] [names] [bands]

names: comma-separated, each an activation or name:param=value (swish:beta=1.7,
gelu:approximate=tanh); bands: lo:hi,... (then every band's ns per element is printed).
Against another build: PYTHONPATH=<its checkout> python bench/subnormal_bands.py ...
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


def activation(spec: str):
    """fastact.get for 'name' or 'name:param=value' (a float, else the string)."""
    name, _, param = spec.partition(":")
    if not param:
        return fastact.get(name)
    key, _, value = param.partition("=")
    try:
        return fastact.get(name, **{key: float(value)})
    except ValueError:
        return fastact.get(name, **{key: value})


def band_times(act, dtype, backend, bands, mode):
    times = {}
    for lo, hi in bands:
        x = np.random.default_rng(0).uniform(lo, hi, N).astype(dtype)
        g, out = np.ones_like(x), np.empty_like(x)
        call = ((lambda: act.forward(x, out=out, backend=backend)) if mode == "forward"
                else (lambda: act.backward(g, x, out=out, backend=backend)))
        times[(lo, hi)] = ns_per_element(call)
    return times


def main(dtype="float32", backend="cython", names=None, bands=None):
    names = names.split(",") if names else [a.name for a in _registry.ACTIVATIONS if a.smooth]
    chosen = [tuple(float(v) for v in b.split(":")) for b in bands.split(",")] if bands else None
    what = "every band" if chosen else "on [-3, 3], slowest band / [-3, 3]"
    print(f"ns per element {what}: {dtype} {backend}")
    with fastact.threads(1):
        for name in names:
            act, cells = activation(name), []
            for mode in ("forward", "backward"):
                times = band_times(act, dtype, backend, chosen or BANDS[dtype], mode)
                if chosen:
                    cells.append(f"{mode} " + " ".join(f"[{lo:g},{hi:g}] {t:.2f}"
                                                       for (lo, hi), t in times.items()))
                    continue
                base = times.pop((-3, 3))
                band = max(times, key=times.get)
                cells.append(f"{mode} {base:.2f} ns x{times[band] / base:.1f} {band}")
            print(f"{name:12s}", " | ".join(cells), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
