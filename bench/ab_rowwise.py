"""Interleaved A/B of two builds of the Cython extension's softmax-family kernels.

    python bench/ab_rowwise.py OLD_kernels.so NEW_kernels.so [--rounds 15] [--threads 1]

Both extension files (e.g. ``fastact/_isa/x86_64_v4/_kernels*.so`` of two checkouts)
are loaded into one process; each round times every case once with each build, in
alternating order.  Printed per case: the best time of each build and the median over
the rounds of the ratio new / old (below 1: the new build is faster).
"""
import argparse
import importlib.util
import time

import numpy as np

SHAPES = ((4096, 2048), (256, 50257), (64, 1000), (10000, 16))
OPS = ("softmax", "log_softmax", "softmax_backward")


def load(tag, path):
    """The extension at path as a module (its init name is _kernels)."""
    spec = importlib.util.spec_from_file_location(f"{tag}._kernels", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def one_case(kernels, args, calls, rounds):
    """(best time per build, median ratio of the second build over the first)."""
    best, ratios = [float("inf")] * 2, []
    for r in range(rounds):
        times = [0.0, 0.0]
        for i in ((0, 1) if r % 2 == 0 else (1, 0)):
            t0 = time.perf_counter()
            for _ in range(calls):
                kernels[i](*args)
            times[i] = (time.perf_counter() - t0) / calls
            best[i] = min(best[i], times[i])
        ratios.append(times[1] / times[0])
    return best, float(np.median(ratios))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    ns = parser.parse_args()
    builds = (load("ab_old", ns.old), load("ab_new", ns.new))
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        for shape in SHAPES:
            x = (rng.standard_normal(shape) * 5).astype(dtype)
            g = rng.standard_normal(shape).astype(dtype)
            y = np.empty_like(x)
            builds[1].rowwise_kernel("softmax")(y, x, None, None, 1)
            for op in OPS:
                backward = op.endswith("_backward")
                args = (np.empty_like(x), y if backward else x, g if backward else None, None,
                        ns.threads)
                kernels = [b.rowwise_kernel(op) for b in builds]
                (t_old, t_new), ratio = one_case(kernels, args, max(3, int(1e7 // x.size)),
                                                 ns.rounds)
                print(f"{np.dtype(dtype).name:8s} {str(shape):14s} {op:18s} old {t_old * 1e3:8.3f} ms"
                      f"  new {t_new * 1e3:8.3f} ms  median ratio {ratio:.3f}", flush=True)


if __name__ == "__main__":
    main()
