"""Run the built example and compare it with fastact's Python API (exit status 1 on a mismatch).

    python setup.py build_ext --inplace && python run.py [--bench]
"""
import sys
import time

import numpy as np

import fastact
import dense_layer


def check() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 64), dtype=np.float32)
    W = (rng.standard_normal((64, 96)) / 8).astype(np.float32)
    b = rng.standard_normal(96).astype(np.float32)
    x[0, :4] = [np.nan, np.inf, -np.inf, -0.0]

    h = dense_layer.dense_gelu(x, W, b)
    want = fastact.gelu(np.matmul(x, W) + b, backend="cython")
    assert np.array_equal(h.view(np.int32), want.view(np.int32)), "dense_gelu differs"

    out = np.empty_like(x)
    dense_layer.gelu_rows(x, out)
    assert np.array_equal(out.view(np.int32), fastact.gelu(x, backend="cython").view(np.int32))

    p = dense_layer.softmax_head(h[1:])
    assert np.array_equal(p, fastact.softmax(h[1:], axis=-1, backend="cython")), "softmax differs"
    assert dense_layer.scalar_gelu(1.5) == fastact.gelu(np.float32(1.5), backend="cython")
    print("OK: the Cython example gives the bits of fastact's Python API")


def bench(shape=(4096, 1024), repeats=30) -> None:
    """Median time of the per-row prange loop against fastact.gelu(x, backend="cython")."""
    x = np.random.default_rng(1).standard_normal(shape, dtype=np.float32)
    out = np.empty_like(x)
    rows, whole = [], []
    for _ in range(repeats):  # interleaved, so load changes hit both alike
        t = time.perf_counter()
        dense_layer.gelu_rows(x, out, fastact.get_num_threads())
        rows.append(time.perf_counter() - t)
        t = time.perf_counter()
        fastact.gelu(x, out=out, backend="cython")
        whole.append(time.perf_counter() - t)
    r, w = np.median(rows), np.median(whole)
    print(f"{shape} float32 gelu: per-row prange loop {r * 1e3:.2f} ms, "
          f"fastact.gelu(backend='cython') {w * 1e3:.2f} ms, ratio {r / w:.3f}")


if __name__ == "__main__":
    check()
    if "--bench" in sys.argv:
        bench()
