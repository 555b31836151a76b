"""Single calls of one kernel beside 0 and 2 busy processes: percentiles and a histogram.

    python bench/contention_call_spread.py [backend] [function] [size] [seconds]
    python bench/contention_call_spread.py cython sigmoid 1e7 1.5

float32, 2 threads, ``out=``; the phases 0, 2, 0, 2 busy processes run ``seconds`` each.
Printed per busy count: the 10/25/50/75/90th percentiles of the calls (ms) and their
histogram in 1 ms bins.
"""
import sys
import time

import numpy as np

import fastact
from fastact._bench.busy import BusyProcesses


def main(argv):
    backend = argv[1] if len(argv) > 1 else "cython"
    fn = getattr(fastact, argv[2] if len(argv) > 2 else "sigmoid")
    n = int(float(argv[3])) if len(argv) > 3 else 10**7
    seconds = float(argv[4]) if len(argv) > 4 else 1.5
    x = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    out = np.empty_like(x)
    calls = {}
    with fastact.threads(2):
        fn(x, out=out, backend=backend)
        for busy in (0, 2, 0, 2):
            with BusyProcesses(busy):
                got = calls.setdefault(busy, [])
                end = time.perf_counter() + seconds
                while time.perf_counter() < end:
                    t0 = time.perf_counter()
                    fn(x, out=out, backend=backend)
                    got.append(time.perf_counter() - t0)
    for busy, got in calls.items():
        ms = np.array(got) * 1e3
        pct = " ".join(f"{np.percentile(ms, p):.2f}" for p in (10, 25, 50, 75, 90))
        hist = np.histogram(ms, bins=np.arange(0, np.ceil(ms.max()) + 1))[0]
        print(f"busy {busy}: {len(ms)} calls, mean {ms.mean():.2f} ms, p10/25/50/75/90 {pct}")
        print("   per 1 ms bin:", " ".join(str(int(h)) for h in hist))


if __name__ == "__main__":
    main(sys.argv)
