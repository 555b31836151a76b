"""Numba-specific checks: vector code without libm calls, threading layer,
thread/fork/GIL safety, cache fallback.  Accuracy and semantics are covered by
the shared backend-parametrized suites."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

numba = pytest.importorskip("numba")

from fastact._registry import all_kernel_ids  # noqa: E402
from tests._arrays import at_line_offset  # noqa: E402

LIBM = re.compile(r"call\w*\s+\S*(exp|log|tanh|erf|pow)\w*", re.I)
TRANSCENDENTAL = ("sigmoid", "tanh", "gelu", "gelu_tanh", "silu", "mish", "softplus", "logsigmoid")


def _run(code: str, timeout=600, env=None):
    """Run code in a fresh interpreter (a hang or abort cannot take pytest down)."""
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout, env=full_env)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kernel_id", [k for k in TRANSCENDENTAL if k in all_kernel_ids()])
def test_hot_loops_use_vector_registers_and_no_libm(kernel_id, dtype, tmp_path):
    # Compile without the disk cache (cached code cannot be inspected).
    proc = _run(f"""
        import sys, re, numpy as np
        from fastact._numba import _factory
        _factory.compile_kernel({kernel_id!r}, "forward", {dtype!r})
        mod = sys.modules["fastact._numba._generated_{kernel_id}_forward_{dtype}"]
        x = np.ones(8, np.{dtype}); o = np.empty_like(x)
        mod.serial.py_func.__globals__  # noqa
        from numba import njit
        serial = njit(nogil=True, error_model="numpy", cache=False)(mod.serial.py_func)
        serial(o, x, x, np.{dtype}(0), np.{dtype}(0))
        asm = serial.inspect_asm(serial.signatures[0])
        print("VEC", ("zmm" in asm) or ("ymm" in asm))
        print("ZMM", "zmm" in asm)
        print("LIBM", bool(re.search(r"call\\w*\\s+\\S*(exp|log|tanh|erf|pow)\\w*", asm, re.I)))
        print("GATHER", bool(re.search(r"vgather|vscatter", asm)))
        chunk = _factory._chunks[({kernel_id!r}, "forward", {dtype!r}), "cfunc"]  # what drivers call
        print("CHUNK_ZMM", "zmm" in chunk._library.get_asm_str())
    """, env={"FASTACT_CACHE_DIR": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    assert "VEC True" in proc.stdout, proc.stdout
    assert "LIBM False" in proc.stdout, proc.stdout
    assert "GATHER False" in proc.stdout, "contiguous loops load and store whole vectors: " + proc.stdout
    if kernel_id in ("gelu", "gelu_tanh") and _host_has_avx512():
        assert "ZMM True" in proc.stdout, "gelu kernels ask for 512-bit vectors: " + proc.stdout
    if _host_has_avx512():
        assert "CHUNK_ZMM True" in proc.stdout, "the C chunk (serial inlined) keeps 512-bit vectors: " + proc.stdout


def test_bias_driver_stages_with_whole_vectors():
    """The bias driver's staging (x + bias) and bias-gradient loops: vector loads and
    stores, no gathers (Numba's negative-index wraparound on ``x[s + j]`` makes them)."""
    from numba import njit

    from fastact._numba import _fused

    driver = njit(nogil=True, error_model="numpy", boundscheck=False)(_fused._bias_py)
    sig = _fused._signature("bias", "float32")
    driver.compile(sig)
    asm = driver.inspect_asm(sig)
    assert not re.search(r"vgather|vscatter", asm)
    assert re.search(r"vaddp[sd]\s[^\n]*%[yz]mm", asm)


def _host_has_avx512():
    from llvmlite import binding

    return bool(binding.get_host_cpu_features().get("avx512f"))


def test_threading_layer_is_thread_and_fork_safe():
    proc = _run("""
        import numpy as np, fastact._numba as nb
        nb.WORK_POOL = False  # the layer itself, not the work pool
        k = nb.get_elementwise("relu", "forward")
        x = np.ones(1_000_000); o = np.empty_like(x); k(o, x, None, (), 2)
        from fastact._numba import _threading
        print("LAYER", _threading.active_layer(), type(_threading.launch_lock).__name__)
    """)
    assert proc.returncode == 0, proc.stderr
    layer = proc.stdout.split("LAYER")[1].split()
    # TBB, or workqueue serialised by a lock
    assert layer[0] == "tbb" or layer[1] == "lock", proc.stdout


@pytest.mark.parametrize("work_pool", [True, False])
def test_concurrent_threads_fork_and_thread_count_give_identical_results(work_pool):
    proc = _run(f"""
        import os, threading, numpy as np, fastact._numba as nb
        nb.WORK_POOL = {work_pool}
        k = nb.get_elementwise("gelu", "forward")
        x = np.random.default_rng(0).standard_normal(400_000)
        ref = np.empty_like(x); k(ref, x, None, (), 1)
        o2 = np.empty_like(x); k(o2, x, None, (), 2)
        assert np.array_equal(ref, o2), "thread count changed results"
        ok = []
        def work():
            o = np.empty_like(x)
            for _ in range(10):
                k(o, x, None, (), 2)
            ok.append(np.array_equal(o, ref))
        ts = [threading.Thread(target=work) for _ in range(8)]
        [t.start() for t in ts]; [t.join() for t in ts]
        assert ok == [True] * 8, ok
        pid = os.fork()
        if pid == 0:
            o = np.empty_like(x); k(o, x, None, (), 2)
            os._exit(0 if np.array_equal(o, ref) else 3)
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
        print("OK")
    """)
    assert proc.returncode == 0 and "OK" in proc.stdout, proc.stderr


def test_kernels_release_the_gil():
    proc = _run("""
        import threading, time, numpy as np, fastact._numba as nb
        k = nb.get_elementwise("tanh", "forward")
        x = np.random.default_rng(0).standard_normal(4_000_000); o = np.empty_like(x)
        k(o[:8], x[:8], None, (), 1)
        state = {"ticks": 0, "done": False}
        def run():
            for _ in range(5):
                k(o, x, None, (), 1)
            state["done"] = True
        t = threading.Thread(target=run); t.start()
        while not state["done"]:
            state["ticks"] += 1   # the main thread keeps running Python code
            time.sleep(0)
        t.join()
        print("TICKS", state["ticks"])
    """)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout.split("TICKS")[1]) > 10, proc.stdout


def test_read_only_cache_dir_falls_back(tmp_path):
    ro = tmp_path / "not-a-directory"  # unwritable even for root
    ro.write_text("")
    proc = _run("""
        import numpy as np, fastact._numba as nb
        from fastact._numba import _factory
        k = nb.get_elementwise("sigmoid", "forward")
        x = np.array([0.0, 1.0]); o = np.empty_like(x); k(o, x, None, (), 1)
        print("DIR", _factory.cache_dir(), o[0])
    """, env={"FASTACT_CACHE_DIR": str(ro), "XDG_CACHE_HOME": str(ro)})
    assert proc.returncode == 0, proc.stderr
    assert "0.5" in proc.stdout and str(ro) not in proc.stdout.split("DIR")[1].split()[0]


def test_import_fastact_does_not_import_numba():
    proc = _run("import sys, fastact; print('NUMBA' if 'numba' in sys.modules else 'CLEAN')")
    assert proc.stdout.strip().endswith("CLEAN"), proc.stdout + proc.stderr


def test_softmax_loops_use_vector_registers_and_keep_the_thread_count(tmp_path):
    # Compiled fresh (cached code cannot be inspected); the row helpers are link-only,
    # so each serial entry point (Numba's own driver) and each work-pool part function
    # holds its plan's hot loops: for every op, dtype and plan (rows; large arrays:
    # prefetch, streaming stores) they must use vectors (ymm/zmm registers; the part
    # functions, cfuncs, by their optimized IR) and call no libm exp or vector log; 2-thread
    # launches (rows, column tiles) restore the caller's Numba thread count.
    proc = _run("""
        import re, numba, numpy as np
        import fastact._numba as nb
        from fastact._numba import _factory, softmax as S
        from fastact._numba.softmax import _plan as P, _pool
        shapes = [(3, 300)] + ([(4, 1 << 20)] if P.STREAMING else [])
        # no exp call at all, no vector log; the log ops' one log1p a row is a scalar call
        libm_ir = re.compile(r"@(llvm\\.)?exp[\\w.]*\\(|@llvm\\.log\\w*\\.v\\d+")
        print("PARTS", _pool.parts_driver() is not None)
        for pool in (False, True):
            nb.WORK_POOL = pool
            for op, (kind, negate, forward, streams) in S._OPS.items():
                for dt in (np.float32, np.float64):
                    for shape in shapes:
                        x = np.random.default_rng(0).standard_normal(shape).astype(dt)
                        o = np.empty((shape[0], 1) if op == "logsumexp" else shape, dt)
                        S.get_rowwise(op)(o, x, None if forward else x, None, 1)
                        how, _ = P.plan(shape, x.itemsize, 1, forward, streams)
                        if not pool:
                            entry = S.serial_entry(kind, how)
                            asm = "".join(entry.inspect_asm(sig) for sig in entry.signatures)
                            vec = ("zmm" in asm) or ("ymm" in asm)
                            libm = bool(re.search(r"call\\w*\\s+\\S*(exp|log)\\w*", asm, re.I))
                        elif _pool.parts_driver() is not None and how in _pool.POOLED:
                            key = ("softmax_part", kind, how, np.dtype(dt).name,
                                   "f" if forward else "b")
                            ir = _factory._chunks[key, "cfunc"].inspect_llvm()
                            vec = bool(re.search(r"<(8|16) x (float|double)>", ir))
                            libm = bool(libm_ir.search(ir))
                        else:
                            continue
                        print("LOOP", pool, op, np.dtype(dt).name, how, vec and not libm)
        nb.WORK_POOL = True
        numba.set_num_threads(1)
        x = np.ones((64, 4000)); o = np.empty_like(x)
        S.get_rowwise("softmax")(o, x, None, None, 2)
        x3 = np.ones((4, 3000, 40)); o3 = np.empty_like(x3)  # a non-last axis: tiles
        S.get_rowwise("softmax_backward")(o3, x3, x3, None, 2)
        print("THREADS", numba.get_num_threads())
    """, env={"FASTACT_CACHE_DIR": str(tmp_path), "NUMBA_CACHE_DIR": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    loops = [line for line in proc.stdout.splitlines() if line.startswith("LOOP")]
    own = {tuple(line.split()[2:5]) for line in loops if line.startswith("LOOP False")}
    pooled = {tuple(line.split()[2:5]) for line in loops if line.startswith("LOOP True")}
    assert len(own) >= 12 and (len(pooled) >= 12 or "PARTS False" in proc.stdout), proc.stdout
    assert all(line.endswith("True") for line in loops), proc.stdout
    assert "THREADS 1" in proc.stdout, proc.stdout


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pipelined_rows_match_row_by_row(dtype):
    # Pipelined rows (the next row's max inside this row's exp pass) give the bits
    # of the row-by-row path, also around special rows (+-inf, NaN, all -inf) and
    # for rows longer than a block.
    from numba import njit

    from fastact._numba.softmax import _exp as E, _rows as R

    # the row helpers are link-only (no machine code of their own): called from compiled code
    @njit
    def piped_rows(op):
        R.forward_rows(op, None, 0, 9)

    @njit
    def row_by_row(op, buf):
        for r in range(9):
            R.forward_row(op, None, r, buf)

    rng = np.random.default_rng(1)
    for n in (7, 300, E.BLOCK + 5):
        x = (rng.standard_normal((9, n)) * 4).astype(dtype)
        x[1, 3] = np.inf
        x[2, :] = -np.inf
        x[4, 5] = np.nan
        x[6, 2] = -np.inf
        x[7, 0] = x[7].max()  # a tie at the max
        for kind, negate in ((R.SOFTMAX, False), (R.SOFTMAX, True), (R.LOG_SOFTMAX, False),
                             (R.LOGSUMEXP, False)):
            shape = (9, 1) if kind == R.LOGSUMEXP else x.shape
            piped, ref = np.empty(shape, dtype), np.empty(shape, dtype)
            piped_rows((kind, negate, piped, x))
            row_by_row((kind, negate, ref, x), np.empty(min(E.BLOCK, n), dtype))
            assert piped.tobytes() == ref.tobytes(), (n, kind, negate)


def test_numba_label_counter_is_reset_after_each_compilation():
    """Numba's global block-label counter grows geometrically over inline-heavy
    compilations; fastact resets it when the compiler lock is released."""
    import numba
    from numba.core import ir_utils

    import fastact._numba  # noqa: F401  (installs the reset)
    import fastact._numba._formulas  # noqa: F401  (loaded lazily: not yet when run alone)

    @numba.njit
    def twice(v):
        return fastact._numba._formulas.gelu__forward(v, 0.0, 0.0) * 2

    ir_utils._the_max_label._value = 10 ** 30
    twice(np.float64(1.5))
    assert ir_utils._the_max_label._value == 0


def _awkward(n, dtype, seed):
    x = np.random.default_rng(seed).standard_normal(n).astype(dtype) * 8
    x[:6] = [np.nan, np.inf, -np.inf, -0.0, 0.0, np.finfo(dtype).tiny / 4]
    return x


def _record_threads(monkeypatch, name, driver, position=-2):
    """The thread counts the extension's ``name`` driver is asked for (its argument at
    ``position``), through ``driver``."""
    from fastact._numba import _threading

    asked = []
    monkeypatch.setitem(_threading._extension_drivers, name,
                        lambda *args: (asked.append(args[position]), driver(*args))[1])
    return asked


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kernel_id, mode, params", [
    ("elu", "forward", (0.7,)),              # transcendental, a parameter
    ("gelu", "backward", ()),                # transcendental, grad
    ("leaky_relu", "backward", (0.03,)),     # memory-bound, grad
    ("sigmoid", "backward_y", ()),           # memory-bound (from y), grad
])
def test_work_pool_runs_the_numba_chunks_with_the_layers_bits(kernel_id, mode, params, dtype,
                                                                monkeypatch):
    """Parallel calls whose out overlaps no input run the kernel's compiled chunks on the
    Cython extension's work pool, with the bits of the threading layer and of one thread;
    in place they stay on the layer."""
    import fastact._numba as nb

    if nb._pool_driver() is None:
        pytest.skip("the compiled extension is not built")
    threads_asked = _record_threads(monkeypatch, "loop_driver", nb._pool_driver())
    k = nb.get_elementwise(kernel_id, mode)
    n = 300_017  # parallel in both classes, a ragged tail
    x = _awkward(n, dtype, 1)
    g = _awkward(n, dtype, 2) if mode != "forward" else None
    x_before = x.copy()
    pooled, layer, serial = (np.empty_like(x) for _ in range(3))
    k(pooled, x, g, params, 2)
    assert threads_asked == [2]
    k(serial, x, g, params, 1)
    asked = [2, 1]  # one thread: the pool's driver too (serial)
    assert threads_asked == asked
    monkeypatch.setattr(nb, "WORK_POOL", False)
    k(layer, x, g, params, 2)
    assert threads_asked == asked
    monkeypatch.setattr(nb, "WORK_POOL", True)
    if g is None:  # out is an input: x, else grad
        in_place = x.copy()
        k(in_place, in_place, None, params, 2)
    else:
        in_place = g.copy()
        k(in_place, x, in_place, params, 2)
    assert threads_asked == asked, "in place: the threading layer"
    capped = np.empty_like(x)
    numba.set_num_threads(1)  # the caller's Numba thread count caps the pool's threads
    try:
        k(capped, x, g, params, 2)
    finally:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    assert threads_asked == asked + [1]
    bits = pooled.view(f"u{pooled.itemsize}")
    assert np.array_equal(bits, capped.view(bits.dtype))
    assert np.array_equal(bits, layer.view(bits.dtype))
    assert np.array_equal(bits, serial.view(bits.dtype))
    assert np.array_equal(bits, in_place.view(bits.dtype))
    assert np.array_equal(x.view(bits.dtype), x_before.view(bits.dtype))


def test_work_pool_driver_refuses_a_null_loop():
    import fastact._cython as cy

    if cy.loop_driver() is None:
        pytest.skip("the compiled extension is not built")
    x = np.ones(8)
    with pytest.raises(ValueError, match="address"):
        cy.loop_driver()(0, np.empty_like(x), x, None, (), 2, False)


@pytest.mark.parametrize("kernel_id, mode, params, bias_grad", [
    ("elu", "forward", (0.7,), False),
    ("leaky_relu", "backward", (0.03,), True),
])
def test_work_pool_runs_the_numba_bias_loops_with_the_layers_bits(kernel_id, mode, params,
                                                                  bias_grad, monkeypatch):
    """An activation of x + bias runs the kernel's compiled chunks on the extension's bias
    driver (the work pool) from PARALLEL_THRESHOLD elements on, in one thread below,
    with the bits (out and db) of the threading layer's driver."""
    import fastact._cython as cy
    import fastact._numba as nb

    if cy.bias_driver() is None:
        pytest.skip("the compiled extension is not built")
    threads_asked = _record_threads(monkeypatch, "bias_driver", cy.bias_driver())
    k = nb.get_biased(kernel_id, mode)
    rows, m = 40, 2500  # 100000 elements: parallel; two tiles a row, the second ragged
    x = _awkward(rows * m, "float32", 1).reshape(rows, m)
    g = _awkward(rows * m, "float32", 2).reshape(rows, m) if mode != "forward" else None
    b = _awkward(m, "float32", 3)[::-1].copy()
    outs, dbs = [], []
    for n_threads, pool in ((2, True), (2, False), (1, False)):
        monkeypatch.setattr(nb, "WORK_POOL", pool)
        outs.append(np.empty_like(x))
        dbs.append(np.zeros(m) if bias_grad else None)
        k(outs[-1], x, g, b, params, n_threads, dbs[-1])
    monkeypatch.setattr(nb, "WORK_POOL", True)
    k(np.empty_like(x[:2]), x[:2], None if g is None else g[:2], b, params, 2)
    assert threads_asked == [2, 1], "parallel, then one thread below the threshold"
    for other in outs[1:]:
        assert np.array_equal(outs[0].view(np.uint32), other.view(np.uint32))
    if bias_grad:
        assert all(np.array_equal(dbs[0].view(np.uint64), d.view(np.uint64)) for d in dbs)
    with pytest.raises(ValueError, match="address"):
        cy.bias_driver()(0, np.empty_like(x), x, g, b, (0.0, 0.0), 2, None)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kernel_id, mode", [("gelu", "forward"), ("gelu", "backward"),
                                             ("sigmoid", "backward"), ("relu", "forward")])
def test_work_pool_runs_the_numba_gated_loops_with_the_layers_bits(kernel_id, mode, dtype,
                                                                   monkeypatch):
    """A gated unit runs its compiled chunks on the extension's gated drivers (the work
    pool; Strided operands, or whole arrays) from PARALLEL_THRESHOLD elements on, in one
    thread below, with the bits of the threading layer's driver, serial or threaded."""
    import fastact._cython as cy
    import fastact._numba as nb
    from fastact._fused import Strided

    if cy.gated_driver() is None:
        pytest.skip("the compiled extension is not built")
    asked = _record_threads(monkeypatch, "gated_driver", cy.gated_driver(), -1)
    asked_direct = _record_threads(monkeypatch, "gated_direct_driver",
                                   cy.gated_direct_driver(), -1)
    k, direct = nb.get_gated(kernel_id, mode), nb.get_gated_direct(kernel_id, mode)
    rows, m = 40, 2500  # 100000 elements: parallel; two tiles a row, the second ragged
    x = _awkward(rows * 2 * m, dtype, 1).reshape(rows, 2 * m)
    flat = x.reshape(-1)
    ins = (Strided(flat, m, 2 * m), Strided(flat, 0, 2 * m))  # gate at an offset: glu's
    grad = _awkward(rows * m, dtype, 2).reshape(rows, m) if mode == "backward" else None
    if grad is not None:
        ins += (Strided(grad.reshape(-1), 0, m),)
    params = (0.0, 0.0)
    results = []
    for n_threads, pool in ((2, True), (1, True), (2, False), (1, False)):
        monkeypatch.setattr(nb, "WORK_POOL", pool)
        res = np.full((rows, 2 * m) if grad is not None else (rows, m), np.nan, dtype)
        r = res.reshape(-1)
        outs = ((Strided(r, m, 2 * m), Strided(r, 0, 2 * m)) if grad is not None
                else (Strided(r, 0, m),))
        k(outs, ins, rows, m, params, n_threads)
        results.append(res)
    assert asked == [2, 1]
    monkeypatch.setattr(nb, "WORK_POOL", True)
    for n_threads in (2, 1):
        results.append(np.full_like(results[0], np.nan))
        assert direct(results[-1], x, None, grad, 1, params, n_threads) is results[-1]
    small = np.empty_like(results[0][:2])
    assert direct(small, x[:2], None, None if grad is None else grad[:2], 1, params,
                  2) is small
    assert asked_direct == [2, 1, 1], "parallel, serial, then one thread below the threshold"
    bits = f"u{np.dtype(dtype).itemsize}"
    for other in results[1:]:
        assert np.array_equal(results[0].view(bits), other.view(bits))
    assert np.array_equal(small.view(bits), results[0][:2].view(bits))
    monkeypatch.setattr(nb, "WORK_POOL", False)
    assert direct(small, x[:2], None, None if grad is None else grad[:2], 1, params, 2) is False
    with pytest.raises(ValueError, match="address"):
        cy.gated_driver()(0, outs, ins, rows, m, params, 2)
    with pytest.raises(ValueError, match="address"):
        cy.gated_direct_driver()(0, small, x[:2], None, None, 1, params, 2)


@pytest.mark.parametrize("op, shape, dtype, backward", [
    ("softmax", (300, 1000), "float32", False),       # ROWS
    ("logsumexp", (300, 1000), "float64", False),
    ("log_softmax", (300, 1000), "float32", True),    # a backward op: x holds y
    ("softmax", (20000, 16), "float32", False),       # SHORT_ROWS
])
def test_work_pool_runs_the_softmax_rows_with_the_layers_bits(op, shape, dtype, backward,
                                                              monkeypatch):
    """Parallel softmax-family calls over rows run as parts on the work pool (a compiled
    part function, no parallel region), with the bits of the threading layer; in place
    too; a masked call stays on the layer."""
    import fastact
    import fastact._numba as nb
    from fastact._numba import _threading
    from fastact._numba.softmax import _pool

    if _pool.parts_driver() is None:
        pytest.skip("the compiled extension is not built")
    calls = []
    driver = _pool.parts_driver()
    monkeypatch.setitem(_threading._extension_drivers, "parts_driver",
                        lambda *args: (calls.append(args[-1]), driver(*args)))
    x = _awkward(shape[0] * shape[1], dtype, 3).reshape(shape)
    x[5] = -np.inf
    if backward:
        y = fastact.log_softmax(x, backend="numba")
        g = _awkward(x.size, dtype, 4).reshape(shape)
        run = lambda out=None: fastact.log_softmax_backward(g, y, out=out, backend="numba")
    else:
        fn = getattr(fastact, op)
        run = lambda out=None: fn(x, out=out, backend="numba")
    calls.clear()
    pooled = run()
    assert calls == [2]
    if backward:  # into grad
        in_place = g.copy()
        fastact.log_softmax_backward(in_place, y, out=in_place, backend="numba")
    else:
        in_place = x.copy() if op != "logsumexp" else None
        if in_place is not None:
            getattr(fastact, op)(in_place, out=in_place, backend="numba")
    pooled_calls = 2 if in_place is not None else 1
    assert len(calls) == pooled_calls
    monkeypatch.setattr(nb, "WORK_POOL", False)
    layer = run()
    assert len(calls) == pooled_calls
    bits = f"u{np.dtype(dtype).itemsize}"
    assert np.array_equal(pooled.view(bits), layer.view(bits))
    if in_place is not None:
        assert np.array_equal(pooled.view(bits), in_place.view(bits))
    if op == "softmax" and shape[1] > 256:  # a masked call runs on the threading layer
        monkeypatch.setattr(nb, "WORK_POOL", True)
        fastact.softmax(x, where=np.ones(shape, bool), backend="numba")
        assert len(calls) == pooled_calls


def test_work_pool_parts_driver_checks_its_context():
    import fastact._cython as cy

    if cy.parts_driver() is None:
        pytest.skip("the compiled extension is not built")
    with pytest.raises(ValueError, match="address"):
        cy.parts_driver()(0, (), (), 1, 2)
    with pytest.raises(ValueError, match="16"):
        cy.parts_driver()(1, (), tuple(range(17)), 1, 2)
    with pytest.raises(TypeError, match="ndarray"):
        cy.parts_driver()(1, ([1.0],), (), 1, 2)


@pytest.mark.parametrize("work_pool", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bits_do_not_depend_on_where_x_sits_in_a_line(dtype, work_pool, monkeypatch):
    """Through the work pool's driver and Numba's own, x's first partial line runs as a call
    of its own and every chunk starts on a line of x: the same bits at every offset and
    thread count."""
    from fastact import _numba as nb

    monkeypatch.setattr(nb, "WORK_POOL", work_pool)
    x = np.random.default_rng(3).standard_normal(300_001).astype(dtype) * 4
    g = np.random.default_rng(4).standard_normal(x.size).astype(dtype)
    for kid, mode in (("relu", "backward"), ("gelu", "forward")):
        kernel = nb.get_elementwise(kid, mode)
        grad = g if mode == "backward" else None
        ref = np.empty_like(x)
        kernel(ref, at_line_offset(x, 0), grad, (), 1)
        for shift, n_threads in ((1, 1), (64 // x.itemsize - 1, 2), (3, 2)):
            out = np.empty_like(x)
            kernel(out, at_line_offset(x, shift),
                   None if grad is None else at_line_offset(grad, shift), (), n_threads)
            assert out.tobytes() == ref.tobytes(), (kid, mode, shift, n_threads)


@pytest.mark.parametrize("op", ["softmax", "log_softmax", "logsumexp"])
@pytest.mark.parametrize("shape", [(1, 1000), (64, 16), (3, 300)])
def test_serial_rowwise_forward_runs_on_the_pool_with_the_layers_bits(op, shape, monkeypatch):
    """A forward row op small enough to run serially goes to the extension's parts driver in
    the calling thread (its arguments are not typed by a dispatcher), a second call of the
    shape straight from the kept plan, with the bits of Numba's own serial entry."""
    import fastact._numba as nb

    from fastact._cython import parts_driver

    if parts_driver() is None:
        pytest.skip("the compiled extension is not built")
    asked = _record_threads(monkeypatch, "parts_driver", parts_driver(), -1)
    kernel = nb.get_rowwise(op)
    x = _awkward(shape[0] * shape[1], "float32", 4).reshape(shape)
    out_shape = shape[:1] if op == "logsumexp" else shape
    pooled, again, own = (np.full(out_shape, np.nan, np.float32) for _ in range(3))
    kernel(pooled, x, None, None, 2)
    kernel(again, x, None, None, 2)
    assert asked == [1, 1], "the calling thread alone, twice"
    monkeypatch.setattr(nb, "WORK_POOL", False)
    kernel(own, x, None, None, 2)
    assert asked == [1, 1]
    for other in (again, own):
        assert np.array_equal(pooled.view(np.uint32), other.view(np.uint32))
