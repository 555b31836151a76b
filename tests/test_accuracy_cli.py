"""``fastact accuracy``: the ULP arithmetic, the grid, the oracle cache, the command on a
subset, its JSON schema, a missing peer, and the bench's max-ULP column."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from fastact import cli
from fastact._accuracy import bench_column, grid, oracle, ulp
from fastact._bench import peers

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
SUB32 = float(np.finfo(F32).smallest_subnormal)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty accuracy cache of the test's own (the Numba cache is left alone)."""
    monkeypatch.setattr(oracle, "cache_dir", lambda: str(tmp_path / "accuracy"))
    return tmp_path / "accuracy"


# ------------------------------------------------------------------ ULP arithmetic
@pytest.mark.parametrize("dtype", [F32, F64], ids=["float32", "float64"])
@pytest.mark.parametrize("ref, steps", [(1.5, 1), (1.5, -3), (-7.25, 2), (1e-30, 1), (3e30, -1)])
def test_neighbouring_floats_are_whole_ulps(dtype, ref, steps):
    r = np.asarray(ref, dtype)
    got = r
    for _ in range(abs(steps)):
        got = np.nextafter(got, np.asarray(np.inf if steps > 0 else -np.inf, dtype))
    err = ulp.ulp_errors(got, np.float64(r), 0.0, dtype)
    assert err == pytest.approx(abs(steps))


def test_fractions_of_an_ulp_from_the_remainder():
    # exact value 1 + 2**-54: a quarter of float64's ULP at 1 away from 1.0
    assert ulp.ulp_errors(1.0, 1.0, 2.0**-54, F64) == pytest.approx(0.25)
    assert ulp.ulp_errors(1.0 + 2.0**-52, 1.0, 2.0**-54, F64) == pytest.approx(0.75)


@pytest.mark.parametrize("hi, got, expected", [
    (3 * SUB32, 5 * SUB32, 2.0),  # subnormal reference: the subnormal spacing
    (0.0, 2 * SUB32, 2.0),  # zero reference: the subnormal spacing too
    (0.4 * SUB32, 0.0, 0.4),  # a reference below the smallest subnormal
    (2.0, float(np.nextafter(F32.type(2), F32.type(0))), 0.5),  # at 2**k: the spacing above
])
def test_subnormal_and_binade_edge_spacing(hi, got, expected):
    assert ulp.ulp_errors(np.float32(got), hi, 0.0, F32) == pytest.approx(expected)


@pytest.mark.parametrize("hi, got, err, kinds", [
    (np.inf, np.inf, 0.0, set()),
    (np.inf, float(np.finfo(F32).max), np.inf, {"inf"}),
    (np.inf, -np.inf, np.inf, {"inf", "sign"}),
    (1e39, np.inf, 0.0, set()),  # finite, but infinite once rounded to float32
    (np.nan, np.nan, 0.0, set()),
    (np.nan, 0.0, np.inf, {"not_nan"}),
    (0.5, np.nan, np.inf, {"nan"}),
    (-1e-9, 0.0, 1e-9 / 2.0**-53, {"zero"}),  # log_softmax at the max, float32
    (2 * SUB32, 0.0, 2.0, set()),  # a subnormal true value: a 0 is not "wrong 0"
    (1e-3, -1e-3, 2e-3 / 2.0**-33, {"sign"}),
])
def test_special_values(hi, got, err, kinds):
    e = ulp.ulp_errors(np.float32(got), hi, 0.0, F32)
    assert e == pytest.approx(err, rel=1e-6) if np.isfinite(err) else e == err
    found = {k for k, mask in ulp.special_disagreements(np.float32(got), hi, 0.0, F32).items()
             if mask.any()}
    assert found == kinds


def test_round_to_breaks_float32_ties_with_the_remainder():
    halfway = 1.0 + 2.0**-24  # between 1 and 1 + 2**-23
    assert ulp.round_to(halfway, 1e-30, F32) == np.float32(1 + 2.0**-23)
    assert ulp.round_to(halfway, -1e-30, F32) == np.float32(1.0)
    assert ulp.round_to(halfway, 0.0, F32) == np.float32(1.0)  # a true tie: to even


def test_ulp_of_the_largest_float_is_finite():
    assert ulp.ulp_of(np.finfo(F32).max, F32) == 2.0**104
    assert np.isnan(ulp.ulp_of(np.inf, F32))


# ---------------------------------------------------------------------- the grid
@pytest.mark.parametrize("dtype", [F32, F64], ids=["float32", "float64"])
def test_grid_covers_the_range(dtype):
    x = grid.points(dtype, (-2.0, 0.5), grid.QUICK)
    fi = np.finfo(dtype)
    finite = x[np.isfinite(x)]
    assert x.dtype == dtype and np.isnan(x[-1]) and np.all(np.diff(x[:-1]) >= 0)
    assert {np.inf, -np.inf, fi.max, -fi.max, 0.5, -2.0} <= set(x.tolist())
    assert np.signbit(x[x == 0]).sum() == 1 and (x == 0).sum() == 2  # -0.0 and +0.0
    assert fi.smallest_subnormal in finite and np.any((finite > 0) & (finite < fi.smallest_normal))
    assert np.nextafter(dtype.type(0.5), dtype.type(1)) in finite  # a kink's neighbour
    near0 = np.sort(finite[np.abs(finite) <= 1])
    assert np.diff(near0).max() <= 0.051  # dense near 0
    assert grid.points(dtype, (), grid.DEFAULT).size > 4 * x.size


def test_grid_is_fixed():
    a, b = grid.points(F32, (1.0,), grid.QUICK), grid.points(F32, (1.0,), grid.QUICK)
    assert a.tobytes() == b.tobytes()
    assert grid.rows(F64, grid.QUICK).tobytes() == grid.rows(F64, grid.QUICK).tobytes()


def test_dominant_row_shows_log_softmax_at_the_max(cache):
    rows = grid.rows(F64, grid.QUICK)
    hi, _ = oracle.rowwise("log_softmax", rows)
    assert -1.1e-9 < hi[0, 0] < -0.9e-9
    hi, _ = oracle.rowwise("softmax", rows)
    assert np.allclose(hi.sum(axis=1), 1.0)


def test_oracle_is_cached_on_disk(cache):
    x = grid.points(F32, (), grid.QUICK)[::20]
    first = oracle.elementwise("sigmoid", False, x)
    files = list(cache.iterdir())
    assert len(files) == 1 and files[0].suffix == ".npz"
    second = oracle.elementwise("sigmoid", False, x)
    assert all(np.array_equal(a, b, equal_nan=True) for a, b in zip(first, second))
    assert oracle.elementwise("sigmoid", True, x)[0].tobytes() != first[0].tobytes()
    assert len(list(cache.iterdir())) == 2


# ------------------------------------------------------------------- the command
SUBSET = ["accuracy", "--functions", "relu,gelu", "--dtypes", "float32", "--quick",
          "--no-progress"]
RECORD_KEYS = {"function", "op", "activation", "mode", "kind", "dtype", "impl", "impl_kind",
               "note", "error", "points", "max_ulp", "x_at_max", "above_bound", "specials"}


def test_command_on_a_subset(cache, tmp_path, capsys):
    out = tmp_path / "acc.json"
    md = tmp_path / "acc.md"
    code = cli.main([*SUBSET, "--plain", "--peers", "scipy,numpy-expr", "--json", str(out),
                     "--markdown", str(md)])
    assert code == 0
    text = capsys.readouterr().out
    assert "relu'" in text and "gelu_tanh" in text and "wall time" in text
    report = json.loads(out.read_text())
    assert {"date", "grid", "backends", "peers", "settings", "wall_seconds"} <= set(report["meta"])
    functions = {r["function"] for r in report["results"]}
    assert functions == {"relu", "relu'", "gelu", "gelu'", "gelu_tanh", "gelu_tanh'"}
    for r in report["results"]:
        assert RECORD_KEYS <= set(r), set(r) ^ RECORD_KEYS
        if r["impl_kind"] == "backend":
            assert r["within_promise"], r
            if r["function"] == "relu":
                assert r["max_ulp"] == 0
    assert md.read_text().startswith("| function | dtype |")


def test_missing_peer_is_skipped_with_a_note(cache, monkeypatch, capsys):
    real = peers.library_version
    monkeypatch.setattr(peers, "library_version",
                        lambda lib: None if lib == "scipy" else real(lib))
    from fastact._accuracy import accuracy_report

    code = cli.main([*SUBSET[:2], "relu", *SUBSET[3:], "--plain", "--peers",
                     "scipy,numpy-expr", "--backends", "numpy"])
    assert code == 0
    assert "not installed, skipped: scipy" in capsys.readouterr().err
    report = accuracy_report(functions=["gelu"], dtypes=["float32"], quick=True,
                             peers=["scipy", "numpy-expr"])
    assert "scipy" not in {r["impl"] for r in report["results"]}


def test_plot(cache, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "acc.png"
    assert cli.main([*SUBSET[:2], "gelu", *SUBSET[3:], "--plain", "--peers", "numpy-expr",
                     "--backends", "numpy", "--plot", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_rejects_bad_options(capsys):
    assert cli.main(["accuracy", "--functions", "nope"]) == 2
    assert cli.main(["accuracy", "--peers", "tensorflow"]) == 2


@pytest.mark.skipif(peers.library_version("onnxruntime") is None, reason="onnxruntime")
def test_onnxruntime_float32_only_kernel_is_unsupported_not_an_error():
    from fastact._bench.cases import Buffers, select

    case = next(c for c in select(["leaky_relu"]) if c.mode == "forward")
    x = np.linspace(-3, 3, 7)
    bufs = Buffers(x=x, grad=None, y=None, out=np.empty_like(x), params=case.kwargs)
    peer = next(p for p in case.peers if p.library == "onnxruntime")
    with pytest.raises(peers.Unsupported):
        peer.make(bufs, False)


# ------------------------------------------------------------- the bench column
def test_bench_max_ulp_column_is_cached(cache):
    records = [{"function": "relu", "dtype": "float32", "impl": impl}
               for impl in ("numpy", "numpy-expr")]
    records.append({"function": "relu_backward_y", "dtype": "float32", "impl": "numpy"})
    bench_column.attach(records, ("numpy",), ("numpy-expr",))
    assert records[0]["max_ulp"] == 0 and "max_ulp" in records[1]
    assert "max_ulp" not in records[2]  # backward from y: not measured
    cached = [f for f in os.listdir(cache) if f.startswith("bench-")]
    assert len(cached) == 1
    from fastact._bench.report import _ulp_cell

    assert _ulp_cell({"max_ulp": 0.5}, {"max_ulp": 2.1e6}) == "0.5 / 2.1e+06"
    assert _ulp_cell(None, None) == "-"


def test_bench_max_ulp_cache_is_keyed_by_the_build(monkeypatch):
    import fastact
    from fastact._accuracy import measure

    if "cython" not in fastact.backends():
        pytest.skip("the Cython backend is not built here")
    target = measure.targets(("relu",), ("float32",))[0]
    before = bench_column._path(target, ("cython",), ())
    monkeypatch.setattr(bench_column, "_file_id", lambda path: (path, -1, -1))  # rebuilt
    assert bench_column._path(target, ("cython",), ()) != before
    assert bench_column._path(target, ("numpy",), ()) == bench_column._path(
        target, ("numpy",), ())
