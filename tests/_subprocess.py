"""Run Python code in a fresh interpreter, so a hang or an abort fails a test instead of pytest."""
import os
import signal
import subprocess
import sys
import textwrap

import pytest


def run_python(code, timeout=300, env=None, cwd=None):
    """(returncode, stdout, stderr) of ``code`` run in its own session; kill the group on timeout."""
    p = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True,
                         env=env if env is not None else dict(os.environ), cwd=cwd)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        pytest.fail(f"subprocess hung (> {timeout}s)\nstdout:\n{out[-3000:]}\nstderr:\n{err[-3000:]}")
    return p.returncode, out, err


def results_on_isa_variants(code, tmp_path, baseline=False):
    """{variant: arrays} of ``code`` (which saves its arrays with ``np.savez`` to
    ``{tmp_path}/<variant>.npz``, the variant from ``fastact.config()``) run once per runnable
    ISA build of the Cython backend (FASTACT_CYTHON_ISA): the x86-64-v3/v4 builds, and the
    baseline build (the package's own extension) if ``baseline``; skips with fewer than two."""
    import numpy as np

    from fastact import _cython

    flags = _cython._cpu_flags()
    variants = (["baseline"] if baseline else []) + [
        v for v in ("x86_64_v3", "x86_64_v4") if _cython._variant_path(v) and _cython._supports(v, flags)]
    if len(variants) < 2:
        pytest.skip(f"fewer than two runnable ISA variants built here: {variants}")
    results = {}
    for v in variants:
        rc, _, err = run_python(code, env=dict(os.environ, FASTACT_CYTHON_ISA=v), timeout=600)
        assert rc == 0, err[-3000:]
        results[v] = np.load(os.path.join(str(tmp_path), f"{v}.npz"))
    return results


def assert_same_bits_on_isa_variants(code, tmp_path):
    """Run ``code`` (see :func:`results_on_isa_variants`) on every runnable ISA build of the
    Cython backend and assert that every array has the same bits on all."""
    import numpy as np

    results = results_on_isa_variants(code, tmp_path)
    first, *others = results
    for v in others:
        for key in results[first].files:
            assert np.array_equal(results[first][key], results[v][key], equal_nan=True), \
                f"{key}: {first} and {v} differ"
