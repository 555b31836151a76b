"""The softmax family's public calls on one thread, CPU time, against PyTorch's.

    python bench/softmax_rows_cpu.py OPS SHAPES [ROUNDS]
    e.g. python bench/softmax_rows_cpu.py softmax,log_softmax 65536x16,8192x16 11

float32 x ~ N(0, 1), ``out=`` preallocated; fastact.set_num_threads(1) and
torch.set_num_threads(1); numba, cython and PyTorch (torch.ops.aten ... out=) interleaved
in one process, each round a batch of 20 calls of each timed by time.thread_time (robust on
a shared machine).  Printed per case: the medians in us and each backend / PyTorch.
Against another build: PYTHONPATH=<its checkout> python ... (alternate the two).
"""
import statistics
import sys
import time

import numpy as np
import torch

import fastact

_TORCH = {"softmax": lambda t, o: torch.ops.aten._softmax.out(t, -1, False, out=o),
          "log_softmax": lambda t, o: torch.ops.aten._log_softmax.out(t, -1, False, out=o),
          "logsumexp": lambda t, o: torch.logsumexp(t, -1, out=o)}


def case(op, shape, rounds):
    """{contender: median seconds per call}."""
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    out = np.empty(shape[:1] if op == "logsumexp" else shape, np.float32)
    f = getattr(fastact, op)
    tx, to = torch.from_numpy(x), torch.from_numpy(out.copy())
    calls = {b: (lambda b=b: f(x, out=out, backend=b)) for b in ("numba", "cython")}
    calls["torch"] = lambda: _TORCH[op](tx, to)
    times = {k: [] for k in calls}
    for c in calls.values():
        c()
    for _ in range(rounds):
        for k, c in calls.items():
            t0 = time.thread_time()
            for _ in range(20):
                c()
            times[k].append((time.thread_time() - t0) / 20)
    return {k: statistics.median(v) for k, v in times.items()}


def main(argv):
    fastact.set_num_threads(1)
    torch.set_num_threads(1)
    ops = argv[0].split(",")
    shapes = [tuple(map(int, s.split("x"))) for s in argv[1].split(",")]
    rounds = int(argv[2]) if len(argv) > 2 else 11
    for shape in shapes:
        for op in ops:
            med = case(op, shape, rounds)
            t = med["torch"]
            print(f"{op:12s} {shape[0]}x{shape[1]:<6d} torch {t * 1e6:8.1f} us  " + "  ".join(
                f"{k} {med[k] * 1e6:8.1f} us ({med[k] / t:.2f})" for k in ("numba", "cython")),
                flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
