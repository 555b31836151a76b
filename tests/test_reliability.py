"""Process safety for every backend: Python threads, fork, thread-count
independence, GIL release, and no crash or mutation on bad input.

Large arrays are used where the point is the parallel path.  Anything that
could hang or abort (fork) runs in a subprocess with a timeout, so a hang is
a test failure, not a stuck CI job.
"""
import os
import sys
import threading

import numpy as np
import pytest

import fastact
from tests._arrays import FORWARD_ROW_OPS, KERNEL_CASES, case_modes, large_array
from tests._subprocess import run_python

BIG = 1_000_003  # well above any serial threshold


def big_n(backend) -> int:
    """Large for the parallel backends; the single-threaded reference gets a small size
    (it has no parallel path, and its accurate formulas are slow on huge arrays)."""
    return 30_011 if backend == "numpy" else BIG
HERE = os.path.dirname(__file__)


def _run_subprocess(code, timeout=300):
    """Run ``code`` in a fresh interpreter that can import the tests' helpers."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([HERE, env.get("PYTHONPATH", "")])
    return run_python(code, timeout=timeout, env=env)


def _call(case, mode, x, g, backend, out=None):
    if mode == "forward":
        return fastact.get(case.name, **case.kwargs)(x, out=out, backend=backend)
    if mode == "derivative":
        return fastact.derivative(case.name, x, out=out, backend=backend, **case.kwargs)
    if mode == "backward":
        return fastact.backward(case.name, g, x, out=out, backend=backend, **case.kwargs)
    return fastact.backward(case.name, g, y=x, out=out, backend=backend, **case.kwargs)


def _jobs(dtype, n):
    """(label, callable) for every kernel id and mode and every row op, on big inputs."""
    x = large_array(n, dtype, seed=1)
    g = large_array(n, dtype, seed=2, scale=1.0)
    rows = large_array((n // 2000) * 1000, dtype, seed=3).reshape(-1, 1000)
    jobs = []
    for case in KERNEL_CASES:
        for mode in case_modes(case):
            jobs.append((f"{case.id} {mode}", lambda c=case, m=mode, b=None: _call(c, m, x, g, b)))
    for op in FORWARD_ROW_OPS:
        jobs.append((op.name, lambda o=op.name, b=None: getattr(fastact, o)(rows, backend=b)))
    y = fastact.softmax(rows, backend="numpy")
    jobs.append(("softmax_backward", lambda b=None: fastact.softmax_backward(rows, y, backend=b)))
    # a non-last axis: the kernels' (outer, n, inner) column-tile path
    cube = rows.reshape(-1, 10, 100)
    for op in ("softmax", "log_softmax", "logsumexp"):
        jobs.append((f"{op} axis=1", lambda o=op, b=None: getattr(fastact, o)(cube, axis=1, backend=b)))
    if n >= BIG:
        # past 8 MiB: the compiled kernels' prefetching, streaming-store paths
        wide = large_array((9 << 20) // np.dtype(dtype).itemsize // 2000 * 2000, dtype,
                           seed=4).reshape(-1, 2000)
        wy = fastact.softmax(wide, backend="numpy")
        for op in ("softmax", "log_softmax"):
            jobs.append((f"{op} 9 MiB", lambda o=op, b=None: getattr(fastact, o)(wide, backend=b)))
        jobs.append(("softmax_backward 9 MiB",
                     lambda b=None: fastact.softmax_backward(wide, wy, backend=b)))
    return jobs


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_results_independent_of_thread_count(backend, dtype):
    """set_num_threads(1) and (2) give bitwise identical results on large arrays."""
    failures = []
    for label, job in _jobs(dtype, big_n(backend)):
        fastact.set_num_threads(1)
        one = job(b=backend)
        fastact.set_num_threads(2)
        two = job(b=backend)
        if not np.array_equal(one, two, equal_nan=True):
            diff = np.flatnonzero(~((one == two) | (np.isnan(one) & np.isnan(two))))
            failures.append(f"{label}: {diff.size} elements differ, first at {diff[0]}")
    assert not failures, "\n".join(failures)


def test_concurrent_python_threads(backend):
    """8 Python threads calling kernels at once give the single-threaded results."""
    fastact.set_num_threads(2)
    jobs = _jobs(np.float32, big_n(backend))[::3] + _jobs(np.float64, big_n(backend))[1::5]
    expected = [job(b=backend) for _, job in jobs]
    errors = []
    barrier = threading.Barrier(8)

    def worker(k):
        try:
            barrier.wait(60)
            for rep in range(2):
                for i in range(k % len(jobs), len(jobs), 2):
                    got = jobs[i][1](b=backend)
                    if not np.array_equal(got, expected[i], equal_nan=True):
                        errors.append(f"thread {k}: {jobs[i][0]} differs")
        except Exception as exc:  # noqa: BLE001 - report any failure in the thread
            errors.append(f"thread {k}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    assert not any(t.is_alive() for t in threads), "threads hung"
    assert not errors, "\n".join(errors[:10])


def test_fork_after_parallel_kernels(backend):
    """A child forked after the parent ran parallel kernels computes correctly and exits."""
    code = f"""
        import os, sys
        import numpy as np
        import fastact
        b = {backend!r}
        fastact.set_num_threads(2)
        x = np.random.default_rng(0).standard_normal({big_n(backend)}).astype(np.float32)
        rows = x[:{big_n(backend) // 2000 * 1000}].reshape(-1, 1000)
        want = {{}}
        for name in ("tanh", "gelu", "sigmoid", "relu"):
            want[name] = getattr(fastact, name)(x, backend=b)
        want["softmax"] = fastact.softmax(rows, backend=b)
        want["axis0"] = fastact.log_softmax(rows, axis=0, backend=b)
        want["d"] = fastact.derivative("silu", x, backend=b)
        pids = []
        for k in range(2):
            pid = os.fork()
            if pid == 0:
                ok = True
                try:
                    for name in ("tanh", "gelu", "sigmoid", "relu"):
                        ok &= np.array_equal(getattr(fastact, name)(x, backend=b), want[name])
                    ok &= np.array_equal(fastact.softmax(rows, backend=b), want["softmax"])
                    ok &= np.array_equal(fastact.log_softmax(rows, axis=0, backend=b), want["axis0"])
                    ok &= np.array_equal(fastact.derivative("silu", x, backend=b), want["d"])
                    fastact.set_num_threads(1)
                    ok &= np.array_equal(fastact.tanh(x, backend=b), want["tanh"])
                except BaseException as exc:
                    print("child error", repr(exc), flush=True)
                    ok = False
                os._exit(0 if ok else 3)
            pids.append(pid)
        codes = [os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in pids]
        # the parent still works after forking
        assert np.array_equal(fastact.tanh(x, backend=b), want["tanh"])
        print("children", codes, flush=True)
        sys.exit(0 if codes == [0, 0] else 1)
    """
    rc, out, err = _run_subprocess(code, timeout=400)
    assert rc == 0, f"rc={rc}\nstdout:\n{out[-3000:]}\nstderr:\n{err[-3000:]}"


def test_multiprocessing_fork_pool(backend):
    code = f"""
        import multiprocessing as mp
        import numpy as np
        import fastact
        x = np.linspace(-5, 5, {big_n(backend)})
        fastact.sigmoid(x, backend={backend!r})  # parallel region in the parent
        def work(k):
            return float(fastact.sigmoid(x + k, backend={backend!r}).sum())
        if __name__ == "__main__":
            with mp.get_context("fork").Pool(2) as pool:
                got = pool.map(work, range(4))
            want = [work(k) for k in range(4)]
            assert got == want, (got, want)
            print("ok")
    """
    rc, out, err = _run_subprocess(code, timeout=400)
    assert rc == 0 and "ok" in out, f"rc={rc}\n{out[-2000:]}\n{err[-3000:]}"


def test_gil_released_during_kernels(backend):
    """While one thread is inside a big kernel, another Python thread runs.

    Not a timing test: with a huge switch interval, the worker can only run
    while the caller has released the GIL.  A flag tells whether the caller
    is inside the kernel call at that moment.
    """
    n = 250_000 if backend == "numpy" else 4_000_000
    x = large_array(n, np.float64, seed=5)
    out = np.empty_like(x)
    side = int(np.sqrt(n))
    rows = x.reshape(side, side)
    calls = [lambda: fastact.tanh(x, out=out, backend=backend),
             lambda: fastact.gelu(x, out=out, backend=backend),
             lambda: fastact.softmax(rows, out=out.reshape(side, side), backend=backend)]
    for c in calls:
        c()  # compile/warm up
    state = {"inside": False, "seen": 0, "stop": False}

    def worker():
        import time
        while not state["stop"]:
            if state["inside"]:
                state["seen"] += 1
            time.sleep(0)  # hand the GIL back at once

    old = sys.getswitchinterval()
    results = []
    t = threading.Thread(target=worker)
    t.start()
    try:
        sys.setswitchinterval(30.0)
        for call in calls:
            seen = 0
            for attempt in range(20):  # a short kernel may end before the worker wakes
                state["seen"] = 0
                state["inside"] = True
                call()
                state["inside"] = False
                seen = state["seen"]
                if seen:
                    break
            results.append(seen)
    finally:
        sys.setswitchinterval(old)
        state["stop"] = True
        t.join(60)
    assert all(results), f"no progress of another thread during kernels: {results}"


def test_bad_input_never_crashes(backend):
    """A barrage of bad calls in a subprocess: every one raises an exception, none crashes."""
    code = f"""
        import numpy as np, fastact, itertools
        b = {backend!r}
        names = fastact.activations()
        bad_inputs = [np.zeros(3, complex), np.array(["a"]), np.array([object()]),
                      np.zeros((2, 2), "datetime64[s]"), "x", None, [[1.0], [2.0, 3.0]],
                      {{"a": 1}}]
        bad_outs = [np.zeros(2), np.zeros(3, np.float32), np.zeros((3, 1)), [0.0] * 3, 5.0,
                    np.zeros(3, np.int64)]
        ro = np.zeros(3)
        ro.flags.writeable = False
        bad_outs.append(ro)
        n = 0
        for name in names + ["softmax", "log_softmax", "softmin", "logsumexp"]:
            fn = getattr(fastact, name)
            for a in bad_inputs:
                try:
                    fn(a, backend=b)
                except (TypeError, ValueError):
                    n += 1
            for o in bad_outs:
                try:
                    fn(np.ones(3), out=o, backend=b)
                    if name != "logsumexp":
                        raise SystemExit(f"{{name}}: out={{o!r}} accepted")
                except (TypeError, ValueError):
                    n += 1
        for name in names:
            for g, x in [(np.ones(4), np.ones(3)), (np.ones(3, complex), np.ones(3)),
                         (None, np.ones(3)), ("a", np.ones(3))]:
                try:
                    fastact.backward(name, g, x, backend=b, **({{}} if name != "threshold" else
                                                             {{"threshold": 0.0, "value": 0.0}}))
                except (TypeError, ValueError):
                    n += 1
        # huge ndim, zero-size, unaligned and weird strides are valid: they must just work
        x = np.zeros((1,) * 32)
        fastact.relu(x, backend=b)
        fastact.softmax(x, axis=5, backend=b)
        buf = np.zeros(8 * 1000 + 1, np.uint8)
        un = np.frombuffer(buf.data, np.float64, 1000, 1)
        fastact.gelu(un, backend=b); fastact.softmax(un, backend=b)
        print("raised", n)
    """
    rc, out, err = _run_subprocess(code, timeout=300)
    assert rc == 0 and "raised" in out, f"rc={rc}\n{out[-2000:]}\n{err[-3000:]}"


def test_big_inputs_not_mutated(backend):
    n = big_n(backend)
    x = large_array(n, np.float32, seed=9)
    g = large_array(n, np.float32, seed=10)
    x0, g0 = x.copy(), g.copy()
    for case in KERNEL_CASES:
        for mode in case_modes(case):
            _call(case, mode, x, g, backend)
    for op in FORWARD_ROW_OPS:
        getattr(fastact, op.name)(x[:n - n % 1000].reshape(-1, 1000), backend=backend)
    fastact.softmax_backward(g[:n - n % 1000].reshape(-1, 1000),
                             x[:n - n % 1000].reshape(-1, 1000), backend=backend)
    assert np.array_equal(x, x0) and np.array_equal(g, g0)
