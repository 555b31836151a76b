"""Softmax-family forward rows: the Numba and Cython kernels and PyTorch, interleaved.

    python bench/rowwise_backends_cpu.py OPS DTYPES SHAPES [THREADS=1] [ROUNDS=7]
    python bench/rowwise_backends_cpu.py softmax,log_softmax float32 10000x1000,64x1000 1 7
    python bench/rowwise_backends_cpu.py OPS DTYPES SHAPES THREADS ROUNDS --trees A,B [--reps 3]

The row kernels (``get_rowwise(op)``, ``rowwise_kernel(op)``) and PyTorch's out= ops run in
one process on x ~ N(0, 3^2), out= preallocated, each round one batch of each in turn (the
order alternating).  One thread: ``time.thread_time`` (robust on a shared machine); more:
wall time.  Printed per case: the medians, numba / torch and numba / cython.

``--trees A,B``: the same in fresh processes with each checkout on PYTHONPATH (its own
Numba cache directory), alternating A, B, B, A, ... ``--reps`` times; printed: the median
numba / cython per tree (cython, the same build in both, is the yardstick) and B / A.
"""
import os
import re
import statistics
import subprocess
import sys
import time

import numpy as np

_LINE = re.compile(r"(\S+ \S+ \S+) t=\d+ numba\s+([\d.]+) ms\s+cython\s+([\d.]+) ms"
                   r"\s+torch\s+([\d.]+)")


def _batch(f, reps, clock):
    t0 = clock()
    for _ in range(reps):
        f()
    return (clock() - t0) / reps


def case(op, dtype, shape, threads, rounds):
    import torch
    from fastact import _cython
    from fastact._numba.softmax import get_rowwise

    aten = torch.ops.aten
    peer = {"softmax": lambda t, o: aten._softmax.out(t, -1, False, out=o),
            "log_softmax": lambda t, o: aten._log_softmax.out(t, -1, False, out=o),
            "logsumexp": lambda t, o: torch.logsumexp(t, -1, out=o)}[op]
    x = (np.random.default_rng(0).standard_normal(shape) * 3).astype(dtype)
    out = np.empty(shape[:1] if op == "logsumexp" else shape, dtype)
    nb, cy = get_rowwise(op), _cython._module.rowwise_kernel(op)
    tx, to = torch.from_numpy(x), torch.from_numpy(out.copy())
    fs = {"numba": lambda: nb(out, x, None, None, threads),
          "cython": lambda: cy(out, x, None, None, threads), "torch": lambda: peer(tx, to)}
    for f in fs.values():
        f()
        f()
    t0 = time.perf_counter()
    fs["numba"]()
    reps = max(1, int(0.03 / max(time.perf_counter() - t0, 1e-7)))
    clock = time.thread_time if threads == 1 else time.perf_counter
    ts = {k: [] for k in fs}
    for r in range(rounds):
        for k in (list(fs) if r % 2 == 0 else list(fs)[::-1]):
            ts[k].append(_batch(fs[k], reps, clock))
    med = {k: statistics.median(v) for k, v in ts.items()}
    print(f"{op} {dtype} {shape[0]}x{shape[1]} t={threads} "
          + "  ".join(f"{k} {v * 1e3:8.3f} ms" for k, v in med.items())
          + f"  nb/torch {med['numba'] / med['torch']:.2f}"
          + f" nb/cy {med['numba'] / med['cython']:.2f}",
          flush=True)


def trees(args, paths, reps):
    got = {}
    for i in range(reps):
        for tag in (paths if i % 2 == 0 else paths[::-1]):
            env = dict(os.environ, PYTHONPATH=tag,
                       FASTACT_CACHE_DIR=f"/tmp/fastact-ab-cache-{abs(hash(tag))}")
            out = subprocess.run([sys.executable, __file__, *args], env=env, text=True,
                                 capture_output=True, cwd="/tmp").stdout
            for m in _LINE.finditer(out):
                nb, cy = float(m.group(2)), float(m.group(3))
                got.setdefault((m.group(1), tag), []).append((nb / cy, nb))
    for key in dict.fromkeys(k for k, _ in got):
        a, b = (statistics.median(r[0] for r in got.get((key, t), [(float("nan"),)]))
                for t in paths)
        print(f"{key:32s} nb/cy A {a:.2f}  B {b:.2f}  B/A {b / a:.2f}")


def main(argv):
    if "--trees" in argv:
        i = argv.index("--trees")
        reps = int(argv[argv.index("--reps") + 1]) if "--reps" in argv else 3
        args = [a for a in argv[:i] if a != "--reps"][:5]
        trees(args, argv[i + 1].split(","), reps)
        return
    import torch

    ops, dtypes = argv[0].split(","), argv[1].split(",")
    shapes = [tuple(map(int, s.split("x"))) for s in argv[2].split(",")]
    threads = int(argv[3]) if len(argv) > 3 else 1
    rounds = int(argv[4]) if len(argv) > 4 else 7
    torch.set_num_threads(threads)
    for dtype in dtypes:
        for shape in shapes:
            for op in ops:
                case(op, dtype, shape, threads, rounds)


if __name__ == "__main__":
    main(sys.argv[1:])
