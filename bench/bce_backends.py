"""binary_cross_entropy_with_logits with its gradient, Cython against Numba, interleaved.

    python bench/bce_backends.py THREADS [ROUNDS]

1e7 float32 logits and 0/1 targets, ``return_grad=True``, reduction "mean".  One
thread: CPU time of the calling thread (robust on a shared machine); more: wall
time.  Printed: each backend's median and the median of numba / cython.
"""
import sys
import time

import numpy as np

import fastact


def main(threads, rounds):
    fastact.set_num_threads(threads)
    clock = time.perf_counter if threads > 1 else time.thread_time
    rng = np.random.default_rng(1)
    x = rng.standard_normal(10**7, dtype=np.float32) * 3
    y = (rng.random(10**7) < 0.5).astype(np.float32)
    calls = {b: (lambda b=b: fastact.binary_cross_entropy_with_logits(
        x, y, return_grad=True, backend=b)) for b in ("cython", "numba")}
    for f in calls.values():
        f(), f()
    times = {k: [] for k in calls}
    for r in range(rounds):
        for k in list(calls)[r % 2:] + list(calls)[:r % 2]:
            t0 = clock()
            calls[k]()
            times[k].append(clock() - t0)
    ratio = np.median(np.array(times["numba"]) / np.array(times["cython"]))
    print(f"bce+grad 1e7 float32 threads={threads}: "
          + " ".join(f"{k}={np.median(v) * 1e3:.2f}ms" for k, v in times.items())
          + f" | numba/cython={ratio:.3f}")


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 9)
