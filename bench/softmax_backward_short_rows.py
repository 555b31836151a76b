"""softmax_backward / log_softmax_backward on short rows, Cython beside Numba.

    python bench/softmax_backward_short_rows.py [dtypes=float64,float32]

Shapes (65536, 16), (65536, 8), (131072, 4); the public calls with ``out=``, 1 and 2
threads; 21 rounds, each backend's 2 untimed calls then 2 timed ones, interleaved; the best
round's time per call in us.  Run it beside a base checkout on ``PYTHONPATH`` for a
before/after.  docs/tuning.md, "Float64 backward rows of up to 16 in batches of 16".
"""
import sys
import time

import numpy as np

import fastact

SHAPES = ((65536, 16), (65536, 8), (131072, 4))


def best_us(call, rounds=21):
    times = {name: [] for name in call}
    for _ in range(rounds):
        for name, f in call.items():
            f()
            f()
            start = time.perf_counter()
            f()
            f()
            times[name].append((time.perf_counter() - start) / 2)
    return {name: min(v) * 1e6 for name, v in times.items()}


def main(dtypes):
    rng = np.random.default_rng(0)
    for dtype in dtypes:
        for shape in SHAPES:
            x = rng.standard_normal(shape).astype(dtype)
            g = rng.standard_normal(shape).astype(dtype)
            out = np.empty_like(x)
            for op in ("softmax", "log_softmax"):
                y = getattr(fastact, op)(x, axis=-1)
                backward = getattr(fastact, op + "_backward")
                cells = []
                for threads in (1, 2):
                    fastact.set_num_threads(threads)
                    t = best_us({be: (lambda be=be: backward(g, y, axis=-1, out=out, backend=be))
                                 for be in ("cython", "numba")})
                    cells.append(f"{threads}T cython {t['cython']:.0f} numba {t['numba']:.0f}")
                print(dtype, shape, op + "_backward", " | ".join(cells), flush=True)


if __name__ == "__main__":
    main(sys.argv[1].split(",") if len(sys.argv) > 1 else ["float64", "float32"])
