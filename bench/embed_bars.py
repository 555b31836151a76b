"""The embedding bars: fastact called from users' Numba and Cython code.

    python bench/embed_bars.py [numba|compile|cython ...]   (default: all three)

* numba: for gelu, silu, relu, sigmoid and tanh, the per-row form
  ``fastact.gelu(x[i], out=out[i])`` and the scalar form ``out[i, j] =
  fastact.gelu(x[i, j])`` in a user's ``prange`` loop (and in a ``range`` loop, against
  one thread) against the Numba backend's array call on the whole (4096, 1024)
  float32 array (interleaved repeats, median ratios), and the count of packed
  ymm/zmm arithmetic instructions in the scalar loop's assembly.
* compile: a fresh interpreter's first call of a user's cached function using
  ``fastact.gelu`` (array) and ``fastact.sigmoid`` (scalar), with a cold and then a
  warm Numba cache; wall and CPU time.
* cython: ``examples/cython_inference`` built in a temporary directory, its
  per-row ``gelu_span_f32`` prange loop against ``fastact.gelu(x, backend="cython")``.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHAPE = (4096, 1024)


ACTIVATIONS = ("gelu", "silu", "relu", "sigmoid", "tanh")
# packed arithmetic on 256/512-bit registers: a vectorized loop body
PACKED = re.compile(r"\bv(?:add|sub|mul|div|max|min|fmadd\w*|fnmadd\w*|cmp\w*)p[sd]\s.*%[yz]mm")


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


def _user_loops(f):
    """A user's loops calling ``f``: per row (prange and range) and per element."""
    from numba import njit, prange

    @njit(parallel=True)
    def rows_parallel(x, out):
        for i in prange(x.shape[0]):
            f(x[i], out=out[i])

    @njit
    def rows_serial(x, out):
        for i in range(x.shape[0]):
            f(x[i], out=out[i])

    @njit(parallel=True)
    def scalar_parallel(x, out):
        for i in prange(x.shape[0]):
            for j in range(x.shape[1]):
                out[i, j] = f(x[i, j])

    @njit
    def scalar_serial(x, out):
        for i in range(x.shape[0]):
            for j in range(x.shape[1]):
                out[i, j] = f(x[i, j])

    return rows_parallel, rows_serial, scalar_parallel, scalar_serial


def numba_bar(names=ACTIVATIONS, repeats=30):
    """Per activation: the user's loops against the backend's whole-array call."""
    import warnings

    import numba
    from numba.core.errors import NumbaIRAssumptionWarning

    import fastact

    warnings.simplefilter("ignore", NumbaIRAssumptionWarning)  # Numba's pedantic SSA check
    x = np.random.default_rng(0).standard_normal(SHAPE, dtype=np.float32)
    out = np.empty_like(x)
    threads = min(fastact.get_num_threads(), numba.config.NUMBA_NUM_THREADS)
    print(f"numba {SHAPE} float32, user loop / fastact.<name>(x, out=out, backend='numba'); "
          f"medians of {repeats} interleaved runs")
    print(f"{'name':8s} {'threads':>7s} {'backend':>9s} {'per row':>8s} {'scalar':>8s} "
          f"{'vector ops in scalar loop':>26s}")
    for name in names:
        f = getattr(fastact, name)
        rows_parallel, rows_serial, scalar_parallel, scalar_serial = _user_loops(f)
        for g in (rows_parallel, rows_serial, scalar_parallel, scalar_serial):
            g(x, out)
        whole = lambda: f(x, out=out, backend="numba")  # noqa: E731
        asm = scalar_serial.inspect_asm(scalar_serial.signatures[0])
        packed = len(PACKED.findall(asm))
        for k, (rows, scalar) in ((threads, (rows_parallel, scalar_parallel)),
                                  (1, (rows_serial, scalar_serial))):
            with fastact.threads(k):
                _, w, r_rows = _median_ratio(lambda: rows(x, out), whole, repeats)
                _, _, r_scalar = _median_ratio(lambda: scalar(x, out), whole, repeats)
            print(f"{name:8s} {k:7d} {w * 1e3:7.2f}ms {r_rows:8.3f} {r_scalar:8.3f} "
                  f"{packed:26d}")


USER_MODULE = """
import numpy as np, numba, fastact

@numba.njit(cache=True)
def layer(x):
    h = fastact.gelu(x)
    for i in range(h.size):
        h[i] = fastact.sigmoid(h[i])
    return h
"""

COMPILE = """
import sys, time
t0 = time.perf_counter()
import numpy as np, numba, fastact
t1 = time.perf_counter()
c1 = time.process_time()
sys.path.insert(0, sys.argv[1])
import user_layer
user_layer.layer(np.ones(8, np.float32))
t2 = time.perf_counter()
print(f"import numba, fastact {t1 - t0:.2f} s, first call {t2 - t1:.2f} s wall, "
      f"{time.process_time() - c1:.2f} s CPU")
"""


def compile_bar():
    """A user's module (a cached @njit function calling gelu on an array and sigmoid on
    scalars) imported and called in a fresh interpreter: cold caches, then warm."""
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "user_layer.py"), "w") as f:
            f.write(USER_MODULE)
        env = dict(os.environ, FASTACT_CACHE_DIR=tmp, NUMBA_CACHE_DIR=tmp)
        for state in ("cold", "warm"):
            out = subprocess.run([sys.executable, "-c", COMPILE, tmp], capture_output=True,
                                 text=True, env=env, check=True).stdout.strip()
            print(f"numba user function, {state} cache: {out} "
                  f"(load average {os.getloadavg()[0]:.1f})")


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
