"""The bias ufuncs against the unfused ufunc sequence and the public functions.

    python bench/ufunc_bias_bars.py THREADS

(2048, 4096) float32 with a (4096,) bias, and the bias as a flat array of x's size;
medians of 15 rounds, every contender once per round in rotating order.
"""
import sys
import time

import numpy as np

import fastact


def contenders():
    u = fastact.ufuncs
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2048, 4096)).astype(np.float32)
    b = rng.standard_normal(4096).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    o, t = np.empty_like(x), np.empty_like(x)
    xf, bf = x.reshape(-1), np.broadcast_to(b, x.shape).reshape(-1).copy()
    return {
        "ufunc gelu_bias(x, b) rows": lambda: u.gelu_bias(x, b, out=o),
        "ufunc add + gelu": lambda: (np.add(x, b, out=t), u.gelu(t, out=t)),
        "fastact.gelu(x, bias=b)": lambda: fastact.gelu(x, bias=b, out=o),
        "ufunc gelu_bias flat (b full)": lambda: u.gelu_bias(xf, bf, out=o.reshape(-1)),
        "ufunc gelu_bias_backward rows": lambda: u.gelu_bias_backward(g, x, b, out=o),
        "ufunc add + gelu_backward": lambda: (np.add(x, b, out=t), u.gelu_backward(g, t, out=t)),
        "fastact.backward(gelu, bias=b)": lambda: fastact.backward("gelu", g, x, bias=b, out=o),
    }


def main(threads, rounds=15):
    fastact.set_num_threads(threads)
    calls = contenders()
    for f in calls.values():
        f(), f()
    times, names = {k: [] for k in calls}, list(calls)
    for r in range(rounds):
        for k in names[r % len(names):] + names[:r % len(names)]:
            t0 = time.perf_counter()
            calls[k]()
            times[k].append(time.perf_counter() - t0)
    print(f"threads={threads}")
    for k, v in times.items():
        print(f"  {k:34s} {np.median(v) * 1e3:7.2f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
