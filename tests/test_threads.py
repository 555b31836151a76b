"""Thread counts: capped to the usable cores, never an unbounded thread creation."""
from __future__ import annotations

import os
import warnings

import pytest

import fastact
from fastact import _backends

from ._subprocess import run_python

CORES = _backends.usable_cores()


def test_usable_cores_follows_the_affinity():
    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert CORES == expected >= 1


def test_set_num_threads_above_the_cores_is_capped_with_a_warning():
    with pytest.warns(RuntimeWarning, match="cores are usable"):
        fastact.set_num_threads(CORES + 1)
    assert fastact.get_num_threads() == CORES
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fastact.set_num_threads(CORES)  # at the cap: no warning
    assert fastact.get_num_threads() == CORES


@pytest.mark.parametrize("name", ["FASTACT_NUM_THREADS", "OMP_NUM_THREADS"])
def test_env_thread_count_is_capped(name):
    env = {k: v for k, v in os.environ.items()
           if k not in ("FASTACT_NUM_THREADS", "OMP_NUM_THREADS")}
    env[name] = "100000" if name == "FASTACT_NUM_THREADS" else "100000,4"
    code, out, err = run_python("import fastact; print(fastact.get_num_threads())", 60, env)
    assert code == 0, err
    assert int(out) == CORES
    assert name in err and "cores are usable" in err


def test_omp_num_threads_is_read_when_fastact_num_threads_is_unset():
    env = {k: v for k, v in os.environ.items() if k != "FASTACT_NUM_THREADS"}
    env["OMP_NUM_THREADS"] = "1"
    code, out, err = run_python("import fastact; print(fastact.get_num_threads())", 60, env)
    assert code == 0, err
    assert out.strip() == "1"


def test_a_million_threads_starts_no_more_than_the_cap():
    """set_num_threads(10**6), then kernels of every backend: no crash, and the process's
    OS threads stay within the pools a capped count allows."""
    code, out, err = run_python(f"""
        import os, warnings
        import numpy as np
        import fastact
        warnings.simplefilter("ignore", RuntimeWarning)
        fastact.set_num_threads(10**6)
        assert fastact.get_num_threads() == {CORES}, fastact.get_num_threads()
        x = np.linspace(-5, 5, 2_000_000, dtype=np.float32)
        for backend in fastact.backends():
            fastact.gelu(x, backend=backend)
            fastact.backward("sigmoid", x, x, backend=backend)
            fastact.softmax(x.reshape(1000, 2000), axis=0, backend=backend)
        print(sorted(fastact.backends()), len(os.listdir("/proc/self/task")))
    """, 300)
    assert code == 0, err
    *names, threads = out.split()
    assert "numpy" in "".join(names)
    # main thread + OpenMP team (cores - 1) + Numba's pool (cores) + a few helpers
    assert int(threads) <= 2 * CORES + 4, out
