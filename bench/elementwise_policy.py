"""Measure the elementwise loop drivers' policy: streaming stores and the parallel launch.

    python bench/elementwise_policy.py stream [--backends cython,numba] [--rounds 15]
    python bench/elementwise_policy.py launch [--backends cython,numba] [--rounds 15]
    python bench/elementwise_policy.py prefetch [--threads 2] [--rounds 15] [--cpu]

``stream``: each kernel timed with plain stores and with streaming stores (the
backend's stream threshold set to 0 or to infinity), interleaved in one process,
at sizes from cache-resident to far past the caches; prints the median ratio
streamed / plain per size (below 1: streaming is faster), with a copy
(``np.copyto``) for scale.  The crossover is where the ratio drops below 1.

``launch``: the same kernels run serially and on the threads (the backend's
parallel thresholds set to 1 or to infinity): the per-call time of a parallel
call on 16 elements (the launch cost) and the ratio parallel / serial per size
(break-even: where it crosses 1), per kernel class (memory-bound, transcendental).

``prefetch``: the Numba parallel driver on the memory-bound kernels with and without
its output blocks prefetched for writing (``_parallel.drive``'s ``prefetch``), 1e7
elements unless ``--sizes``; prints the median ratio prefetched / plain (``--cpu``:
the calling thread's CPU time, for ``--threads 1``).

Kernels are called directly (``backend.get_elementwise(id, mode)``), without the
dispatch layer; 2 threads unless ``--threads``.  Each round times every variant
once, in alternating order; the best time of each over the rounds is printed (on a
shared machine other jobs only ever add time).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from fastact._registry import kernel_params_for

STREAM_SIZES = (1e5, 1e6, 2e6, 4e6, 8e6, 1.6e7, 3.2e7, 6.4e7)
LAUNCH_SIZES = (256, 1e4, 2e4, 3e4, 5e4, 1e5, 2e5, 5e5, 1e6)
KERNELS = {  # class -> (kernel id, mode)
    "memory-bound": (("identity", "forward"), ("relu", "backward_y"), ("hardtanh", "forward"),
                     ("identity", "backward")),
    "transcendental": (("sigmoid", "forward"), ("gelu", "forward")),
}


def _backend(name):
    if name == "cython":
        from fastact import _cython as be
    else:
        from fastact import _numba as be
    be.check_available()
    return be


class Knobs:
    """Set a backend's thresholds for one variant of a measurement."""

    def __init__(self, name):
        self.name = name
        if name == "cython":
            self.mod = _backend(name)._module
        else:
            self.mod = _backend(name)

    def stream(self, on):
        if self.name == "cython":
            self.mod._set_stream_min(0 if on else 1 << 62)
        else:
            self.mod.STREAM_MIN_BYTES = 0 if on else 1 << 62

    def parallel(self, on):
        big = 1 << 62
        if self.name == "cython":
            self.mod._set_parallel_min(1 if on else big, 1 if on else big)
        else:
            self.mod.PARALLEL_THRESHOLD = 1 if on else big
            self.mod.PARALLEL_MIN_BYTES_CHEAP = 1 if on else big


def _calls_for(seconds):
    return max(1, int(0.004 / max(seconds, 1e-9)))


def _time(fn, calls):
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls


def interleaved(variants, rounds):
    """{label: best seconds per call} of callables timed round-robin (the best sample: on a
    shared machine the others' load only ever adds time)."""
    for fn in variants.values():
        fn()
    calls = _calls_for(min(_time(fn, 1) for fn in variants.values()))
    samples = {k: [] for k in variants}
    labels = list(variants)
    for r in range(rounds):
        for label in (labels if r % 2 == 0 else labels[::-1]):
            samples[label].append(_time(variants[label], calls))
    return {k: float(np.min(v)) for k, v in samples.items()}


def _arrays(n, dtype, mode):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(int(n)) * 3).astype(dtype)
    g = rng.standard_normal(int(n)).astype(dtype) if mode.startswith("backward") else None
    return np.empty_like(x), x, g


def _with(setter, on, kernel, args):
    def call():
        setter(on)
        kernel(*args)
    return call


def _each_kernel(ns, classes, sizes):
    """(backend, knobs, kernel id, mode, class, dtype, size, kernel, (out, x, g)) to measure."""
    for name in ns.backends:
        knobs = Knobs(name)
        be = _backend(name)
        knobs.stream(False)
        for dtype in ns.dtypes:
            for n in ns.sizes or sizes:
                for cls in classes:
                    for kid, mode in ns.kernels or KERNELS[cls]:
                        yield (name, knobs, kid, mode, cls, dtype, n, be.get_elementwise(kid, mode),
                               _arrays(n, dtype, mode))
        knobs.stream(False)
        knobs.parallel(False)


def stream(ns):
    print("| backend | kernel | dtype | size | MB out | plain | streamed | streamed/plain | copy |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, knobs, kid, mode, _, dtype, n, kernel, (out, x, g) in _each_kernel(
            ns, ("memory-bound",), STREAM_SIZES):
        args = (out, x, g, kernel_params_for(kid), ns.threads)
        moved = x.nbytes * (3 if g is not None else 2)
        src = np.ones(moved // 2, np.uint8)
        dst = np.empty_like(src)
        t = interleaved({"plain": _with(knobs.stream, False, kernel, args),
                         "streamed": _with(knobs.stream, True, kernel, args),
                         "copy": lambda: np.copyto(dst, src)}, ns.rounds)
        print(f"| {name} | {kid}:{mode} | {dtype} | {n:.0e} | {out.nbytes / 2**20:.1f}"
              f" | {t['plain'] * 1e3:.3f} ms | {t['streamed'] * 1e3:.3f} ms"
              f" | {t['streamed'] / t['plain']:.2f} | {t['copy'] * 1e3:.3f} ms |", flush=True)


def launch(ns):
    print("| backend | class | kernel | dtype | size | serial | parallel | parallel/serial |")
    print("|---|---|---|---|---|---|---|---|")
    for name, knobs, kid, mode, cls, dtype, n, kernel, (out, x, g) in _each_kernel(
            ns, tuple(KERNELS), LAUNCH_SIZES):
        args = (out, x, g, kernel_params_for(kid), ns.threads)
        t = interleaved({"serial": _with(knobs.parallel, False, kernel, args),
                         "parallel": _with(knobs.parallel, True, kernel, args)}, ns.rounds)
        print(f"| {name} | {cls} | {kid}:{mode} | {dtype} | {n:.0e}"
              f" | {t['serial'] * 1e6:.2f} us | {t['parallel'] * 1e6:.2f} us"
              f" | {t['parallel'] / t['serial']:.2f} |", flush=True)


PREFETCH_KERNELS = (("relu", "forward"), ("hardshrink", "forward"), ("threshold", "forward"),
                    ("relu6", "forward"), ("hardsigmoid", "forward"), ("hardswish", "forward"),
                    ("leaky_relu", "forward"), ("hardtanh", "backward"), ("celu", "backward_y"),
                    ("tanh", "backward_y"))


def prefetch(ns):
    from fastact._numba import _factory, _parallel
    from fastact._registry import kernel_args

    clock = time.thread_time if ns.cpu else time.perf_counter
    print("| kernel | dtype | size | plain | prefetched | prefetched/plain |")
    print("|---|---|---|---|---|---|")
    for dtype in ns.dtypes:
        drive = _parallel.driver_for(dtype)
        for n in ns.sizes or (1e7,):
            for kid, mode in PREFETCH_KERNELS:
                out, x, g = _arrays(n, dtype, mode)
                a, b = (x.dtype.type(v) for v in kernel_args(kernel_params_for(kid)))
                args = (_factory.chunk_address(kid, mode, dtype), out, x, x if g is None else g,
                        a, b)
                samples = {True: [], False: []}
                for r in range(ns.rounds):
                    for on in ((True, False) if r % 2 else (False, True)):
                        t0 = clock()
                        drive(*args, on, ns.threads)
                        samples[on].append(clock() - t0)
                plain, pre = (float(np.median(samples[k])) for k in (False, True))
                print(f"| {kid}:{mode} | {dtype} | {n:.0e} | {plain * 1e3:.3f} ms"
                      f" | {pre * 1e3:.3f} ms | {pre / plain:.2f} |", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("stream", "launch", "prefetch"))
    parser.add_argument("--backends", default="cython,numba")
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--sizes", default="")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--cpu", action="store_true")
    parser.add_argument("--kernels", default="",
                        help="kernel:mode,... instead of the class's (e.g. elu:backward_y)")
    ns = parser.parse_args()
    ns.kernels = [tuple(k.split(":")) for k in ns.kernels.split(",") if k]
    ns.backends = ns.backends.split(",")
    ns.dtypes = ns.dtypes.split(",")
    ns.sizes = tuple(float(s) for s in ns.sizes.split(",") if s)
    {"stream": stream, "launch": launch, "prefetch": prefetch}[ns.what](ns)


if __name__ == "__main__":
    main()
