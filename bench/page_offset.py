"""ns/element of fastact's elementwise kernels with out at chosen page-offset distances from x.

    python bench/page_offset.py [N] [funcs] [distances] [dtype] [backend] [mode]
    python bench/page_offset.py 3e6 silu,gelu,tanh,sigmoid,softplus,identity 0,64,-64,2048

x (and grad) sit 16 bytes into a page, as NumPy's large (mmap'd) arrays do; out sits at
`distance` bytes from that page offset.  One thread, time.thread_time, min of 7 rounds.
"""
import sys
import time

import numpy as np

import fastact


def at(buf, offset, n, dtype):
    """n elements of dtype in buf starting at page offset `offset` (mod 4096)."""
    s = (offset - buf.ctypes.data) % 4096
    return buf[s:s + n * dtype.itemsize].view(dtype)


def main(argv):
    n = int(float(argv[1])) if len(argv) > 1 else 3_000_000
    funcs = (argv[2] if len(argv) > 2 else "silu,gelu,tanh,sigmoid,softplus,identity").split(",")
    dists = [int(d) for d in (argv[3] if len(argv) > 3 else "0,64,-64,2048").split(",")]
    dtype = np.dtype(argv[4] if len(argv) > 4 else "float32")
    backend = argv[5] if len(argv) > 5 else "cython"
    mode = argv[6] if len(argv) > 6 else "forward"
    fastact.set_num_threads(1)
    bufs = [np.empty(n * dtype.itemsize + 8192, np.uint8) for _ in range(3)]
    x = at(bufs[0], 16, n, dtype)
    x[:] = np.random.default_rng(0).standard_normal(n) * 4
    g = at(bufs[1], 16, n, dtype)
    g[:] = 1.5
    outs = {d: at(bufs[2], 16 + d, n, dtype) for d in dists}

    def call(f, out):
        if mode == "forward":
            getattr(fastact, f)(x, out=out, backend=backend)
        elif mode == "derivative":
            fastact.derivative(f, x, out=out, backend=backend)
        else:
            fastact.backward(f, g, x, out=out, backend=backend)

    best = {}
    for rnd in range(8):
        for f in funcs:
            for d in dists:
                t = time.thread_time()
                call(f, outs[d])
                t = time.thread_time() - t
                if rnd:
                    best[f, d] = min(best.get((f, d), np.inf), t)
    print(f"{backend} {dtype} {mode} n={n:.0e}: ns/element (thread_time, min of 7, 1 thread)")
    print("| distance | " + " | ".join(funcs) + " |")
    print("|---" * (len(funcs) + 1) + "|")
    for d in dists:
        print(f"| {d} | " + " | ".join(f"{best[f, d] / n * 1e9:.2f}" for f in funcs) + " |")


if __name__ == "__main__":
    main(sys.argv)
