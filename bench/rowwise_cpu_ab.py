"""One-thread CPU time of Cython builds' softmax-family kernels against PyTorch's.

    python bench/rowwise_cpu_ab.py OPS DTYPES SHAPES ROUNDS KERNELS_SO [KERNELS_SO_B]
    e.g. python bench/rowwise_cpu_ab.py log_softmax,softmax_backward float32 65536x16 9 \\
         fastact/_isa/x86_64_v4/_kernels*.so

Each build (an extension file, loaded by path: two checkouts compare in one process),
PyTorch (``torch.set_num_threads(1)``) and, for the backward ops, ``np.add(y, g,
out=o)`` (a read-two-write-one pass over the same bytes) run on the calling thread,
timed by ``time.thread_time``, one batch each per round in alternating order.  Printed
per case: the medians, each build / torch (backward: / the add pass) and the median
of the per-round ratios B / A.
"""
import importlib.util
import statistics
import sys
import time

import numpy as np
import torch

_A = torch.ops.aten
_TORCH = {
    "softmax": lambda t, o, g: _A._softmax.out(t, -1, False, out=o),
    "log_softmax": lambda t, o, g: _A._log_softmax.out(t, -1, False, out=o),
    "logsumexp": lambda t, o, g: torch.logsumexp(t, -1, out=o),
    "softmax_backward": lambda t, o, g: _A._softmax_backward_data.out(
        g, t, -1, t.dtype, grad_input=o),
    "log_softmax_backward": lambda t, o, g: _A._log_softmax_backward_data.out(
        g, t, -1, t.dtype, out=o),
}


def load(tag, path):
    spec = importlib.util.spec_from_file_location(f"{tag}._kernels", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def batch(f, reps):
    t0 = time.thread_time()
    for _ in range(reps):
        f()
    return (time.thread_time() - t0) / reps


def case(builds, op, dtype, shape, rounds):
    """The callables' median seconds per call and the median per-round B / A."""
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    backward = op.endswith("_backward")
    y = np.empty_like(x)
    builds[0].rowwise_kernel("softmax")(y, x, None, None, 1)
    inp = (y if op == "softmax_backward" else np.log(y)) if backward else x
    out = np.empty(shape[:1] if op == "logsumexp" else shape, dtype)
    fs = [lambda k=b.rowwise_kernel(op): k(out, inp, g if backward else None, None, 1)
          for b in builds]
    tin, tg, tout = torch.from_numpy(inp), torch.from_numpy(g), torch.from_numpy(out.copy())
    fs.append(lambda: _TORCH[op](tin, tout, tg))
    if backward:
        fs.append(lambda: np.add(inp, g, out=out))
    for f in fs:
        f()
    t0 = time.perf_counter()
    fs[0]()
    reps = max(1, int(0.02 / max(time.perf_counter() - t0, 1e-7)))
    ts = [[] for _ in fs]
    for r in range(rounds):
        for i in (range(len(fs)) if r % 2 == 0 else reversed(range(len(fs)))):
            ts[i].append(batch(fs[i], reps))
    ab = statistics.median(b / a for a, b in zip(ts[0], ts[1])) if len(builds) == 2 else None
    return [statistics.median(t) for t in ts], ab


def main(argv):
    torch.set_num_threads(1)
    ops, dtypes, shapes, rounds = argv[0].split(","), argv[1].split(","), argv[2].split(","), int(argv[3])
    builds = [load(f"build{i}", p) for i, p in enumerate(argv[4:])]
    for dtype in dtypes:
        for s in shapes:
            for op in ops:
                med, ab = case(builds, op, dtype, tuple(map(int, s.split("x"))), rounds)
                names = "AB"[:len(builds)]
                line = f"{op:20s} {dtype} {s:10s} " + " ".join(
                    f"{n} {t * 1e6:8.1f}us" for n, t in zip(names, med)) + f" torch {med[len(builds)] * 1e6:8.1f}us"
                line += " | " + " ".join(f"{n}/torch {t / med[len(builds)]:5.2f}" for n, t in zip(names, med))
                if op.endswith("_backward"):
                    line += f" | add {med[-1] * 1e6:8.1f}us " + " ".join(
                        f"{n}/add {t / med[-1]:5.2f}" for n, t in zip(names, med))
                if ab is not None:
                    line += f" | B/A {ab:5.3f}"
                print(line, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
