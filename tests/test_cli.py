"""The ``fastact`` command line: ``bench`` (on a tiny subset), ``info``, ``warmup``.

No timing assertions: only that the commands run, print the table and write
a well-formed JSON report, and that every peer computes what the case means.
"""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from fastact import cli
from fastact._bench import cases, peers, report
from fastact._registry import ROW_OPS, all_kernel_ids, y_kernel_ids

TINY = ["bench", "--quick", "--sizes", "1e3", "--no-progress", "--budget", "0.002"]


def _run(*args, timeout=120):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-m", "fastact", *args], capture_output=True,
                          text=True, timeout=timeout, env=env)


def test_case_table_covers_the_registry():
    table = cases.build_cases()
    elementwise = [c for c in table if c.kind == "elementwise"]
    assert {c.op for c in elementwise if c.mode == "forward"} == set(all_kernel_ids())
    assert {c.op for c in elementwise if c.mode == "backward"} == set(all_kernel_ids())
    assert {c.activation for c in elementwise if c.mode == "backward_y"} <= set(y_kernel_ids())
    assert {c.op for c in table if c.kind == "rowwise"} == {op.name for op in ROW_OPS}
    assert len({c.name for c in table}) == len(table)


def test_function_selection():
    assert {c.name for c in cases.select(["gelu"])} == {
        "gelu", "gelu_backward", "gelu_tanh", "gelu_tanh_backward"}
    assert all(c.mode == "backward_y" for c in cases.select(["*_backward_y"]))
    with pytest.raises(ValueError, match="no benchmark case"):
        cases.select(["no_such_function"])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_peer_computes_the_case(dtype):
    """Each installed peer agrees with fastact's NumPy reference on N(0, 9) inputs."""
    from fastact._bench.run import _agrees, _as_array

    pool = cases.InputPool()
    libraries = set(peers.available_libraries())
    checked = 0
    for case in cases.build_cases():
        bufs = case.make_buffers(dtype, 1000, pool)
        ref = case.reference(bufs)
        for peer in case.peers:
            if peer.library not in libraries:
                continue
            for allocate in (False, True):
                bufs.out.fill(0)
                try:
                    fn, _ = peer.make(bufs, allocate)
                except peers.Unsupported:  # e.g. ONNX Runtime's float32-only kernels
                    continue
                got = _as_array(fn(), bufs)
                assert _agrees(got, ref, dtype), (peer.library, case.name, dtype, allocate)
                checked += 1
    assert checked > 0


def test_bench_quick_subset_json_plot_and_compare(tmp_path, capsys):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    png = tmp_path / "plot.png"
    plot = ["--plot", str(png)] if _has("matplotlib") else []  # else: see the test below
    proc = _run(*TINY, "--functions", "relu,softmax_backward", "--json", str(first), *plot,
                "--plain")
    assert proc.returncode == 0, proc.stderr
    for word in ("relu", "relu_backward", "relu_backward_y", "softmax_backward",
                 "numpy (ref)", "GB/s", "roofline", "best peer", "compile / warm-up"):
        assert word in proc.stdout
    data = json.loads(first.read_text())
    assert data["meta"]["threads"] >= 1
    assert data["meta"]["config"]["cpu_isa"]
    names = {r["function"] for r in data["results"]}
    assert names == {"relu", "relu_backward", "relu_backward_y", "softmax_backward"}
    ref = [r for r in data["results"] if r["impl"] == "numpy"]
    assert ref and all(r["time_s"] > 0 and r["gbps"] > 0 and not r["mismatch"] for r in ref)
    for backend in data["meta"]["backends"]:
        assert any(r["impl"] == backend for r in data["results"])
    launch = data["meta"]["numba_launch"]
    assert (launch is not None) == ("numba" in data["meta"]["backends"]
                                    and data["meta"]["threads"] >= 2)
    assert ("numba launch:" in proc.stdout) == (launch is not None)
    if _has("matplotlib"):
        assert png.stat().st_size > 10_000
    code = cli.main([*TINY, "--functions", "relu", "--backends", "numpy", "--peers", "none",
                     "--compare", str(first), "--json", str(second), "--plain"])
    out = capsys.readouterr().out
    assert code == 0
    assert "compared with" in out and "vs old" in out
    assert json.loads(second.read_text())["results"]


def test_numba_launch_record_and_note():
    """The Numba launch the bench measures beside its rows: a minimal region through the
    elementwise driver, and a region with work, each against the serial call."""
    from fastact._bench.launch import numba_launch

    assert numba_launch(1) is None and report.launch_lines(None) == []
    launch = numba_launch(2, rounds=3)
    if launch is None:
        pytest.skip("no Numba backend with 2 threads here")
    assert launch["threads"] == 2 and launch["work_elements"] == 65536
    assert min(launch[k] for k in ("parallel_s", "serial_s", "caller_cpu_s",
                                   "work_parallel_s", "work_serial_s", "caller_share")) > 0
    assert launch["launch_s"] == max(0.0, launch["parallel_s"] - launch["serial_s"])
    (line,) = report.launch_lines(launch)
    assert line.startswith("numba launch:") and "on 2 threads" in line
    assert "calling thread ran" in line


def test_bench_in_process_plain_fallback_and_alloc(capsys, monkeypatch):
    real_has = cli._has
    monkeypatch.setattr(cli, "_has", lambda m: False if m in ("rich", "matplotlib") else real_has(m))
    code = cli.main([*TINY, "--functions", "sigmoid", "--backends", "numpy", "--peers", "scipy",
                     "--alloc"])
    out, err = capsys.readouterr()
    assert code == 0
    assert "sigmoid_backward_y" in out and "alloc" in out
    assert "install rich" in out


@pytest.mark.parametrize("command", ["bench", "accuracy"])
def test_plot_without_matplotlib_fails_before_the_run(command, capsys, monkeypatch, tmp_path):
    from fastact._accuracy import run as accuracy_run
    from fastact._bench import run as bench_run

    def never(*args, **kwargs):
        raise AssertionError("the run started")

    monkeypatch.setattr(bench_run, "run", never)
    monkeypatch.setattr(accuracy_run, "run", never)
    real_has = cli._has
    monkeypatch.setattr(cli, "_has", lambda m: False if m == "matplotlib" else real_has(m))
    png = tmp_path / "never.png"
    code = cli.main([command, "--functions", "relu", "--no-progress", "--plot", str(png)])
    err = capsys.readouterr().err
    assert code != 0
    assert "matplotlib" in err and "pip install matplotlib" in err
    assert not png.exists()
    # an output into a folder that does not exist fails early too
    monkeypatch.setattr(cli, "_has", real_has)
    missing = str(tmp_path / "no" / "such" / "r.json")
    assert cli.main([command, "--functions", "relu", "--no-progress", "--json", missing]) != 0
    assert "does not exist" in capsys.readouterr().err


def test_bench_rejects_bad_options(capsys):
    assert cli.main(["bench", "--functions", "nope"]) == 2
    assert cli.main(["bench", "--backends", "no_such_backend"]) == 2
    assert cli.main(["bench", "--peers", "tensorflow"]) == 2
    with pytest.raises(SystemExit):
        cli.main(["bench", "--dtypes", "float16"])
    assert "no benchmark case" in capsys.readouterr().err


def test_info():
    proc = _run("info")
    assert proc.returncode == 0, proc.stderr
    for word in ("fastact", "numpy", "cpu_isa", "num_threads", "backends", "peers", "openmp"):
        assert word in proc.stdout


def test_version_and_config(capsys):
    import io

    import fastact

    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"fastact {fastact.__version__}"
    assert cli.main(["config"]) == 0
    printed = io.StringIO()
    fastact.show_config(printed)
    assert capsys.readouterr().out == printed.getvalue()


def test_bench_load_start_is_what_runs_now(monkeypatch):
    """A 1-minute load average still holding work that just ended does not make a quiet
    start busy (the runnable count decides it); other tasks running now do, and so does
    the average during the run beyond the benchmark's own threads."""
    from fastact._bench import load

    monkeypatch.setattr(load, "usable_cores", lambda: 2)
    monkeypatch.setattr(load, "_loadavg", lambda: 1.5)     # the decaying average
    monkeypatch.setattr(load, "_runnable_now", lambda: 0)  # nothing else runs now
    quiet = load.LoadMonitor(threads=2)
    quiet.sample()
    assert quiet.record()["busy"] is False
    monkeypatch.setattr(load, "_runnable_now", lambda: 2)  # two busy processes
    assert load.LoadMonitor(threads=2).record()["busy"] is True
    monkeypatch.setattr(load, "_runnable_now", lambda: 0)
    during = load.LoadMonitor(threads=2)
    monkeypatch.setattr(load, "_loadavg", lambda: 4.0)     # others joined during the run
    during.sample()
    assert during.record()["busy"] is True
    monkeypatch.setattr(load, "_runnable_now", lambda: None)  # no count: the average decides
    monkeypatch.setattr(load, "_loadavg", lambda: 1.5)
    assert load.LoadMonitor(threads=2).record()["busy"] is True


def test_bench_reports_the_pools_stalls(tmp_path, capsys, monkeypatch):
    """The work pool's stalled loops during the run (each caps the next loops at one thread
    for a window) go to the JSON and a summary line; without the extension: None."""
    from fastact._bench import run as run_mod

    counts = iter([3, 5])
    monkeypatch.setattr(run_mod, "_pool_stalls", lambda: next(counts))
    path = tmp_path / "r.json"
    code = cli.main([*TINY, "--functions", "relu", "--backends", "numpy", "--peers", "none",
                     "--json", str(path), "--plain", "--no-ulp"])
    assert code == 0
    assert "work pool: 2 loop(s) waited on a descheduled helper" in capsys.readouterr().out
    assert json.loads(path.read_text())["meta"]["pool_stalls"] == 2
    monkeypatch.setattr(run_mod, "_pool_stalls", lambda: None)
    code = cli.main([*TINY, "--functions", "relu", "--backends", "numpy", "--peers", "none",
                     "--json", str(path), "--plain", "--no-ulp"])
    assert code == 0 and "work pool:" not in capsys.readouterr().out
    assert json.loads(path.read_text())["meta"]["pool_stalls"] is None


def test_bench_spread_load_and_width(tmp_path, capsys, monkeypatch):
    """Per-cell min/quartiles/max in the JSON, the wide-spread marker, a busy-machine warning,
    and a table that fits 120 columns (split into several tables, keys repeated)."""
    from fastact._bench import load

    monkeypatch.setattr(load, "_loadavg", lambda: 1e3)  # a very busy machine
    path = tmp_path / "r.json"
    code = cli.main([*TINY, "--functions", "relu,softmax", "--backends", "numpy",
                     "--alloc", "--json", str(path), "--plain", "--no-ulp"])
    out = capsys.readouterr().out
    assert code == 0
    assert "WARNING: the machine was busy" in out
    data = json.loads(path.read_text())
    assert data["meta"]["load"]["busy"] is True
    for r in data["results"]:
        if r["time_s"]:
            assert r["min_s"] <= r["q1_s"] <= r["q3_s"] <= r["max_s"]
            assert r["min_s"] <= r["time_s"] <= r["max_s"] and r["iqr_rel"] >= 0
    table = out.split("Times are medians")[0]
    assert max(map(len, table.splitlines())) <= report.TABLE_WIDTH
    assert all(len(line) <= report.TABLE_WIDTH for line in out.splitlines())
    wide = dict(data["results"][0], iqr_rel=0.5, time_s=1e-3, mismatch=False, allocates=False)
    assert report._cell(wide).endswith(report.SPREAD_MARK)
    assert not report._cell(dict(wide, iqr_rel=0.01)).endswith(report.SPREAD_MARK)


def test_table_split_repeats_the_key_columns():
    header = ["function", "dtype", "size"] + [f"column{i}" for i in range(12)]
    body = [["softmax_backward", "float32", "1e7"] + ["12.3 ms x45.6"] * 12]
    groups = report._column_groups(header, body, 3, 120)
    assert len(groups) > 1
    for columns in groups:
        assert columns[:3] == [0, 1, 2] and len(columns) > 3
    assert sorted({c for g in groups for c in g}) == list(range(len(header)))


def test_progress_line_shows_an_eta():
    import io

    from fastact._bench.progress import PlainProgress

    stream = io.StringIO()
    progress = PlainProgress(stream)
    progress.start(10)
    for i in range(10):
        progress.advance(f"case {i}")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 10 and "ETA" in lines[-1]


def test_missing_peers_are_named_with_their_install_command(capsys, monkeypatch):
    monkeypatch.setattr(peers, "library_version", lambda lib: None if lib == "torch" else "1")
    cli._note_missing_peers(("torch", "scipy", "onnxruntime"))
    err = capsys.readouterr().err
    assert "torch" in err and "pip install torch" in err and "scipy" not in err
    assert peers.install_command(["onnxruntime"]) == "pip install onnxruntime onnx"


def test_warmup_reports_each_backend(capsys, monkeypatch):
    from fastact import _backends

    monkeypatch.setattr(_backends, "available", lambda: ["numpy"])
    assert cli.main(["warmup"]) == 0
    assert "numpy" in capsys.readouterr().out


def test_no_command_prints_help(capsys):
    assert cli.main([]) == 0
    assert "bench" in capsys.readouterr().out


def test_report_formatting():
    assert report.fmt_time(1.5e-6) == "1.5 us"
    assert report.fmt_time(0.25) == "250 ms"
    assert report.fmt_size(10**7) == "1e7"
    assert np.isclose(report.geomean([2, 8]), 4)


def _has(module):
    import importlib.util

    return importlib.util.find_spec(module) is not None


def test_slow_reference_is_timed_on_a_slice(tmp_path, capsys):
    """--reference-cap: a NumPy reference call predicted to be slow runs on a slice, marked ~."""
    path = tmp_path / "r.json"
    functions = "softmax,tanh,cross_entropy,binary_cross_entropy_with_logits"  # losses: 0-d out
    code = cli.main(["bench", "--functions", functions, "--sizes", "1e3,1e4",
                     "--backends", "numpy", "--peers", "none", "--budget", "0.002",
                     "--reference-cap", "1e-9", "--no-progress", "--plain", "--json", str(path)])
    assert code == 0
    assert "~" in capsys.readouterr().out
    results = json.loads(path.read_text())["results"]
    big = [r for r in results if r["size"] == 10_000]
    small = [r for r in results if r["size"] == 1_000]
    assert big and all(r["extrapolated_from"] and r["extrapolated_from"] < 10_000 for r in big)
    assert all(r["extrapolated_from"] is None for r in small)


def test_exact_row_shapes(tmp_path, capsys):
    """--shapes: softmax-family cases at exact (rows, n) shapes, shown as RxN in the table."""
    path = tmp_path / "r.json"
    code = cli.main(["bench", "--functions", "softmax,relu", "--shapes", "3x2048,2x50257",
                     "--dtypes", "float32", "--backends", "numpy", "--peers", "none",
                     "--budget", "0.002", "--no-progress", "--plain", "--json", str(path)])
    assert code == 0
    out = capsys.readouterr().out
    assert "3x2048" in out and "2x50257" in out
    results = json.loads(path.read_text())["results"]
    shapes = {tuple(r["shape"]) for r in results if r["function"] == "softmax"}
    assert shapes == {(3, 2048), (2, 50257)}
    assert {r["size"] for r in results if r["function"] == "relu"} == {6144, 100514}
    assert all(not r["mismatch"] for r in results)


def test_softmax_backward_is_shown_beside_a_read_two_write_one_pass(tmp_path, capsys):
    path = tmp_path / "r.json"
    code = cli.main(["bench", "--functions", "softmax_backward,softmax", "--shapes", "3x2048",
                     "--dtypes", "float32", "--backends", "numpy", "--peers", "none",
                     "--budget", "0.002", "--no-progress", "--plain", "--json", str(path)])
    assert code == 0
    lines = [line for line in capsys.readouterr().out.splitlines()
             if "read-two-write-one" in line]
    assert len(lines) == 1 and lines[0].startswith("softmax_backward float32 3x2048:"), lines
    assert "numpy x" in lines[0]
    results = json.loads(path.read_text())["results"]
    floors = {r["function"]: r["stream_floor_s"] for r in results}
    assert floors["softmax_backward"] > 0 and floors["softmax"] is None


def test_large_smooth_forwards_are_timed_on_cache_resident_slices(tmp_path, capsys, monkeypatch):
    """Past COMPUTE_FLOOR_MIN_BYTES a smooth forward is also timed per compiled backend on
    slices of COMPUTE_FLOOR_SLICE_BYTES, once per slice of the input, in the same rounds, and
    shown over the copy of the same bytes; piecewise-linear forwards and backwards are not."""
    from fastact._bench import run as run_mod

    monkeypatch.setattr(run_mod, "COMPUTE_FLOOR_MIN_BYTES", 1)
    monkeypatch.setattr(run_mod, "COMPUTE_FLOOR_SLICE_BYTES", 4096)
    seen, real = [], run_mod.measure_many
    monkeypatch.setattr(run_mod, "measure_many",
                        lambda fns, policy: seen.append(set(fns)) or real(fns, policy))
    path = tmp_path / "r.json"
    code = cli.main(["bench", "--functions", "sigmoid,relu", "--sizes", "1e4", "--dtypes",
                     "float32", "--backends", "numpy,cython", "--peers", "none", "--budget",
                     "0.002", "--no-progress", "--plain", "--json", str(path)])
    assert code == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "arithmetic alone" in line]
    assert len(lines) == 1 and lines[0].startswith("sigmoid float32 1e4:") and "cython" in lines[0]
    assert {0, 1, "roofline_s", ("compute", "cython")} in seen
    for r in json.loads(path.read_text())["results"]:
        floor = r["function"] == "sigmoid" and r["impl"] == "cython"
        assert (r["compute_floor_s"] is not None) == floor, r
        if floor:
            assert r["compute_floor_s"] > 0


def test_floors_are_timed_in_the_implementations_rounds(tmp_path, capsys, monkeypatch):
    """The copy of a case's bytes (and softmax_backward's read-two-write-one pass) is sampled
    in the same measure_many rounds as the case's implementations; the ratio uses it."""
    from fastact._bench import run as run_mod

    seen = []
    real = run_mod.measure_many

    def spy(fns, policy):
        seen.append(set(fns))
        return real(fns, policy)

    monkeypatch.setattr(run_mod, "measure_many", spy)
    path = tmp_path / "r.json"
    code = cli.main(["bench", "--functions", "softmax_backward,relu", "--sizes", "1e3",
                     "--dtypes", "float32", "--backends", "numpy", "--peers", "none",
                     "--budget", "0.002", "--no-progress", "--plain", "--json", str(path)])
    assert code == 0
    capsys.readouterr()
    assert {0, "roofline_s", "stream_floor_s"} in seen and {0, "roofline_s"} in seen
    for r in json.loads(path.read_text())["results"]:
        assert r["roofline_s"] > 0 and r["roofline_best_s"] > 0
        assert r["roofline_ratio"] == pytest.approx(r["roofline_s"] / r["time_s"])
        assert (r["stream_floor_s"] is not None) == (r["function"] == "softmax_backward")


def test_copy_floor_runs_on_the_case_arrays():
    """A forward's floor copies x into out; a backward's copies grad, then half of x, into
    out (the bytes its kernels move, in their arrays); inputs are never written."""
    from fastact._bench.roofline import Roofline

    roof = Roofline(2)
    try:
        x, grad = np.arange(1 << 17, dtype=np.float32), np.full(1 << 17, 7, np.float32)
        keep_x, keep_grad, out = x.copy(), grad.copy(), np.zeros_like(x)
        roof.copy_call(2 * x.nbytes, [x], out)()
        assert np.array_equal(out, x)
        roof.copy_call(3 * x.nbytes, [grad, x], out)()
        half = x.size // 2
        assert np.array_equal(out[:half], x[:half]) and np.array_equal(out[half:], grad[half:])
        roof.stream_call(x, grad, out)()
        assert np.array_equal(out, x + grad)
        assert np.array_equal(x, keep_x) and np.array_equal(grad, keep_grad)
        roof.copy_call(1000, [x], out[:10])()  # shapes that do not allow it: own buffers
    finally:
        roof.close()


@pytest.mark.parametrize("bad", [["--shapes", "4096by2048"], ["--shapes", "0x5"],
                                 ["--shapes", "2x3,3x2,2X3"],
                                 ["--shapes", "2x3", "--sizes", "1e3"]])
def test_bad_shapes(bad, capsys):
    with pytest.raises(SystemExit) if bad[-1] != "1e3" else contextlib.nullcontext():
        code = cli.main(["bench", *bad, "--no-progress"])
        assert code == 2
    err = capsys.readouterr().err
    assert "shapes" in err
    assert ("given twice: 2x3" in err) == (bad[1] == "2x3,3x2,2X3")


def test_shapes_of_one_element_count_are_rows_of_their_own(tmp_path, capsys):
    """Two shapes of one element count: a softmax-family row each, keyed and shown by its
    shape (table, markdown, --compare, JSON); elementwise cases run once at that size. A
    report from before (distinct counts), and one whose records have no "shape", compare."""
    fast = ["bench", "--functions", "softmax,relu", "--dtypes", "float32", "--backends",
            "numpy", "--peers", "none", "--budget", "0.002", "--no-ulp", "--no-progress",
            "--plain"]
    old, new, md = tmp_path / "old.json", tmp_path / "new.json", tmp_path / "new.md"
    assert cli.main([*fast, "--shapes", "64x16", "--json", str(old)]) == 0
    assert cli.main([*fast, "--shapes", "64x16,16x64", "--compare", str(old),
                     "--json", str(new), "--markdown", str(md)]) == 0
    out = capsys.readouterr().out
    assert "64x16" in out and "16x64" in out and "vs old" in out
    result, before = report.read_json(new), report.read_json(old)
    results = result["results"]
    shapes = [tuple(r["shape"]) for r in results if r["function"] == "softmax"]
    assert shapes == [(64, 16), (16, 64)]
    assert [r["size"] for r in results if r["function"] == "relu"] == [1024]
    keys = [key for key, _ in report.rows(result) if key[0] == "softmax_backward"]
    assert keys == [("softmax_backward", "float32", label, "out") for label in ("64x16", "16x64")]
    assert "| softmax | float32 | 16x64 |" in md.read_text()
    assert report.compare(result, before)[2] == len(before["results"])  # every old row matched
    header, body, _ = report.table_data(result, before)
    vs_old = {(c[0], c[2]): c[header.index("vs old")] for c in body}
    assert vs_old[("softmax", "64x16")] != "-" and vs_old[("softmax", "16x64")] == "-"
    for r in before["results"]:
        del r["shape"]
    elementwise = sum(r["kind"] == "elementwise" for r in before["results"])
    assert report.compare(result, before)[2] == elementwise  # shapeless rows: keyed by size
    assert any(line.startswith("compared with") for line in report.summary_lines(result, before))


def test_per_call_batches_back_to_back():
    """The calls per sample come from a batch of calls back to back, not one call."""
    from fastact._bench.timing import _per_call

    calls = []
    assert _per_call(lambda: calls.append(1), 1e-3) > 0
    assert len(calls) > 1


def test_per_call_survives_one_slow_call():
    """A hiccup in the calibration (one call of 20 ms among calls of microseconds) does not
    make a sample one call long: the estimate is the least of several windows."""
    import time as _time

    from fastact._bench.timing import _per_call

    calls = []

    def fn():
        calls.append(1)
        if len(calls) == 1:
            _time.sleep(0.02)

    assert _per_call(fn, 1e-3) < 1e-3


def test_measure_many_round_robin(monkeypatch):
    """measure_many samples every fast implementation once in each round (so a drifting
    machine slows them alike), in a random order, each sample after at least
    ``policy.settle`` seconds of its own calls (or 10,000 of them, where they are that
    fast), and times a slow one alone."""
    import time as _time

    from fastact._bench import timing
    from fastact._bench.timing import Policy, measure_many

    def one_call(fn, seconds):  # the batch estimate from one call: a known call count
        start = _time.perf_counter()
        fn()
        return _time.perf_counter() - start

    monkeypatch.setattr(timing, "_per_call", one_call)
    calls, settles = [], []
    real_back_to_back = timing._back_to_back

    def marked(fn, seconds):  # where each settling run starts
        settles.append(len(calls))
        return real_back_to_back(fn, seconds)

    monkeypatch.setattr(timing, "_back_to_back", marked)
    fns = {k: (lambda k=k: calls.append((k, _time.perf_counter()))) for k in "abc"}
    fns["slow"] = lambda: _time.sleep(0.03)
    policy = Policy(budget=0.002, min_repeats=4, max_repeats=6, min_sample=1e-4,
                    slow_call=0.02, settle=5e-4)
    timings = measure_many(fns, policy)
    assert set(timings) == {"a", "b", "c", "slow"}
    assert timings["a"].repeats == timings["b"].repeats == timings["c"].repeats >= 4
    assert timings["slow"].median_s >= 0.02
    # after the two calibration calls each: per round, one run of each implementation's
    # calls, its settling calls (for policy.settle seconds) and then its timed batch
    assert settles[0] == 6 and len(settles) == 3 * timings["a"].repeats
    runs = [calls[a:b] for a, b in zip(settles, settles[1:] + [len(calls)])]
    for i in range(0, len(runs), 3):
        assert sorted(run[0][0] for run in runs[i:i + 3]) == ["a", "b", "c"]
    for run in runs:
        key, number = run[0][0], timings[run[0][0]].number
        assert len(run) > number and all(c[0] == key for c in run)
        settling_calls = len(run) - number  # the settling run stops at 10,000 calls
        assert (run[-number][1] - run[0][1] >= 0.9 * policy.settle
                or settling_calls == 10_000)


@pytest.mark.skipif(peers.library_version("torch") is None, reason="PyTorch not installed")
def test_bench_loads_pytorch_before_fastacts_openmp():
    """PyTorch's libgomp.so.1 and the extension's share a soname: the bench imports PyTorch
    first, so PyTorch runs with its own wait policy, not the one fastact would choose."""
    code = ("import numpy as np\n"
            "from fastact._bench import peers\n"
            "peers.import_first(['torch'])\n"
            "import fastact\n"
            "fastact.relu(np.ones(4, np.float32), backend='cython')\n"
            "print(fastact.config()['backends']['cython'].get('openmp_wait_policy'))\n")
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "fastact:" not in out.stdout, out.stdout
