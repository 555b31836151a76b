"""cross_entropy's forward against logsumexp on the same logits, interleaved in one process.

    python bench/ce_vs_logsumexp.py {cython|numba} THREADS [ROUNDS]

(256, 50257) and (4096, 2048) float32; the public calls and the backend's kernels called
directly (no Python around them).  One thread: CPU time of the calling thread (robust on
a shared machine); more: wall time.  Printed: the medians and the median ratios.
"""
import sys
import time

import numpy as np

import fastact
from fastact import _backends


def main(backend, threads, rounds):
    fastact.set_num_threads(threads)
    be = _backends.resolve(backend)
    ce_k, lse_k = be.get_loss("cross_entropy"), be.get_rowwise("logsumexp")
    clock = time.perf_counter if threads > 1 else time.thread_time
    rng = np.random.default_rng(1)
    for rows, n in ((256, 50257), (4096, 2048)):
        x = rng.standard_normal((rows, n), dtype=np.float32) * 3
        t = rng.integers(0, n, rows)
        params, loss, o = (0.0, 1.0, 1.0 / rows, float(n)), np.zeros(rows), np.empty(rows, np.float32)
        calls = {"ce": lambda: fastact.cross_entropy(x, t, backend=backend),
                 "lse": lambda: fastact.logsumexp(x, axis=-1, backend=backend),
                 "ce_k": lambda: ce_k(x, t, None, params, loss, None, threads),
                 "lse_k": lambda: lse_k(o, x, None, None, threads)}
        for f in calls.values():
            f(), f()
        times, names = {k: [] for k in calls}, list(calls)
        for r in range(rounds):
            for k in names[r % 4:] + names[:r % 4]:
                t0 = clock()
                calls[k]()
                times[k].append(clock() - t0)
        ratio = {a: np.median(np.array(times[a]) / np.array(times[b]))
                 for a, b in (("ce", "lse"), ("ce_k", "lse_k"))}
        print(f"{backend} threads={threads} {rows}x{n}: "
              + " ".join(f"{k}={np.median(v) * 1e3:.2f}ms" for k, v in times.items())
              + f" | ce/lse={ratio['ce']:.3f} ce_k/lse_k={ratio['ce_k']:.3f}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 15)
