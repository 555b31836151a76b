"""The embedding bars: fastact called from users' Numba and Cython code.

    python bench/embed_bars.py [numba|compile|cython ...]   (default: all three)

* numba: per-row ``fastact.gelu(x[i], out=out[i])`` in a user's ``prange`` loop (and
  in a serial loop, against one thread) against the Numba backend's array call on
  the whole (4096, 1024) float32 array; interleaved repeats, medians.
* compile: a fresh interpreter's first call of a user's function using
  ``fastact.gelu`` (cold Numba cache), wall time.
* cython: ``examples/cython_inference`` built in a temporary directory, its
  per-row ``gelu_span_f32`` prange loop against ``fastact.gelu(x, backend="cython")``.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHAPE = (4096, 1024)


def _median_ratio(a, b, repeats=40):
    """Medians of the run times of a() and b(), interleaved, and their ratio."""
    ta, tb = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        a()
        ta.append(time.perf_counter() - t)
        t = time.perf_counter()
        b()
        tb.append(time.perf_counter() - t)
    ma, mb = float(np.median(ta)), float(np.median(tb))
    return ma, mb, ma / mb


def numba_bar():
    import numba
    from numba import njit, prange

    import fastact

    @njit(parallel=True)
    def rows_parallel(x, out):
        for i in prange(x.shape[0]):
            fastact.gelu(x[i], out=out[i])

    @njit
    def rows_serial(x, out):
        for i in range(x.shape[0]):
            fastact.gelu(x[i], out=out[i])

    @njit
    def scalar_loop(x, out):
        xf, of = x.reshape(x.size), out.reshape(out.size)
        for i in range(xf.size):
            of[i] = fastact.gelu(xf[i])

    x = np.random.default_rng(0).standard_normal(SHAPE, dtype=np.float32)
    out = np.empty_like(x)
    for f in (rows_parallel, rows_serial, scalar_loop):
        f(x, out)
    fastact.gelu(x, out=out, backend="numba")
    threads = min(fastact.get_num_threads(), numba.config.NUMBA_NUM_THREADS)
    whole = lambda: fastact.gelu(x, out=out, backend="numba")  # noqa: E731
    r, w, ratio = _median_ratio(lambda: rows_parallel(x, out), whole)
    print(f"numba {SHAPE} float32 gelu, {threads} threads: per-row prange {r * 1e3:.2f} ms, "
          f"backend array call {w * 1e3:.2f} ms, ratio {ratio:.3f}")
    with fastact.threads(1):
        r, w, ratio = _median_ratio(lambda: rows_serial(x, out), whole, repeats=20)
        s, _, ratio_s = _median_ratio(lambda: scalar_loop(x, out), whole, repeats=20)
    print(f"numba {SHAPE} float32 gelu, 1 thread: per-row loop {r * 1e3:.2f} ms, scalar loop "
          f"{s * 1e3:.2f} ms, backend array call {w * 1e3:.2f} ms, ratios {ratio:.3f} / "
          f"{ratio_s:.3f}")
    asm = scalar_loop.inspect_asm(scalar_loop.signatures[0])
    print(f"numba scalar loop vector registers: zmm {'zmm' in asm}, ymm {'ymm' in asm}")


COMPILE = """
import time
t0 = time.perf_counter()
import numpy as np, numba, fastact
t1 = time.perf_counter()
c1 = time.process_time()
@numba.njit
def layer(x):
    return fastact.gelu(x)
layer(np.ones(8, np.float32))
t2 = time.perf_counter()
print(f"import {t1 - t0:.2f} s, first call (compile) {t2 - t1:.2f} s wall, "
      f"{time.process_time() - c1:.2f} s CPU")
"""


def compile_bar():
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, FASTACT_CACHE_DIR=cache, NUMBA_CACHE_DIR=cache)
        out = subprocess.run([sys.executable, "-c", COMPILE], capture_output=True, text=True,
                             env=env, check=True).stdout.strip()
    print(f"numba first compile, cold cache: {out} (load average {os.getloadavg()[0]:.1f})")


def cython_bar():
    with tempfile.TemporaryDirectory() as tmp:
        directory = os.path.join(tmp, "cython_inference")
        shutil.copytree(os.path.join(ROOT, "examples", "cython_inference"), directory)
        subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace"], cwd=directory,
                       check=True, capture_output=True)
        out = subprocess.run([sys.executable, "run.py", "--bench"], cwd=directory, check=True,
                             capture_output=True, text=True).stdout.strip()
    print(f"cython {out.splitlines()[-1]}")


if __name__ == "__main__":
    chosen = sys.argv[1:] or ["numba", "compile", "cython"]
    for name in chosen:
        {"numba": numba_bar, "compile": compile_bar, "cython": cython_bar}[name]()
