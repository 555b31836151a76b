"""The public functions on dask arrays, computed on a real ``distributed`` cluster
(``LocalCluster(n_workers=2, threads_per_worker=1, processes=True)``, started once for
the module), against the NumPy API:

* every softmax-family function with its axis chunked (chunks of 1, uneven chunks with
  an empty one), in one chunk, and across it; axis 0, -1, 1 of 3-D input and None;
  ``where=`` masks (a fully masked row too); NaN, +inf, -inf, all -inf and 1e8 rows;
  within the documented ULP bars of ``test_softmax`` (plus the rounding of the chunk
  correction);
* activations, derivatives and backward passes (through the ufuncs) bit for bit;
* laziness (nothing runs before ``.compute()``), the input's chunks kept, one task per
  chunk when the axis lies in one chunk, 1 kernel thread inside a worker;
* dtype rules, 0-d and empty input, clear errors; the example pipeline, small.

Skipped where dask or distributed is not installed.
"""
import importlib.util
import logging
import os
import pathlib
import types

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
import dask  # noqa: E402

import fastact  # noqa: E402
from tests._oracle import ulp_error  # noqa: E402
from tests.test_softmax import allowed_ulps  # noqa: E402

FWD = ("softmax", "log_softmax", "softmin", "logsumexp")
BWD = ("softmax_backward", "log_softmax_backward")
# Both results are within the documented bar of the true value, so within twice it of each
# other; the chunked one adds the rounding of its shift (two roundings).
CORRECTION_ULPS = 2


@pytest.fixture(scope="module")
def client():
    saved = dict(os.environ)  # the nanny exports OMP_NUM_THREADS=1 etc. into this process
    try:
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=":0",
                                      silence_logs=logging.ERROR) as cluster, \
                distributed.Client(cluster) as c:
            yield c
    finally:
        os.environ.clear()
        os.environ.update(saved)


def logits(dtype, shape=(7, 23), seed=0):
    """Random logits at scales 1, 8, 40, 0.01 with special rows: NaN, +inf, all -inf,
    some -inf, and 1e8 logits (rows 1 to 4 along the last axis)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * np.array([1.0, 8.0, 40.0, 0.01])[
        np.arange(shape[-1]) % 4]
    x = x.astype(dtype)
    if x.ndim == 2 and x.shape[0] >= 6:
        x[1, 5] = np.nan
        x[2, 17] = np.inf
        x[3] = -np.inf
        x[4, ::3] = -np.inf
        x[5, :4] = [1e8, -1e8, 1e8, 0]
    return x


def mask_for(x):
    m = np.random.default_rng(1).random(x.shape) > 0.3
    if x.ndim == 2 and x.shape[0] >= 6:
        m[0] = False  # a fully masked row
        m[1, 5] = False  # hides the NaN: row 1 becomes finite
    return m


# (name, shape, chunks, axes): the axis in chunks of 1, in uneven chunks (one empty), in
# one chunk, and chunked across it only
CHUNKINGS = (
    ("ones", (7, 23), (7, 1), (-1,)),
    ("ones", (7, 23), (1, 23), (0,)),
    ("ones", (3, 4), (1, 1), (None,)),
    ("uneven", (7, 23), ((3, 4), (5, 0, 11, 7)), (0, -1, None)),
    ("one-chunk", (7, 23), (7, 23), (-1, None)),
    ("across", (7, 23), (2, 23), (-1,)),
    ("3d-middle", (3, 10, 4), (2, 3, 3), (1,)),
)


def _cases(op):
    """(label, x, NumPy call, dask call) for every chunking, axis and mask; float64 for
    the uneven and 3-D chunkings (the same code path, fewer tasks: CI time)."""
    for name, shape, chunks, axes in CHUNKINGS:
        for dtype in (np.float32, np.float64) if name in ("uneven", "3d-middle") else (
                np.float32,):
            x = logits(dtype, shape)
            d = da.from_array(x, chunks=chunks)
            for axis in axes:
                for where in (None, mask_for(x)):
                    kw = {"keepdims": axis == 0} if op == "logsumexp" else {}
                    label = f"{op} {name} {x.dtype} axis={axis} where={where is not None} {kw}"
                    yield label, x, (x, axis, where, kw), (d, axis, where, kw)


def _assert_close(op, label, got, want, x, n, dtype):
    assert got.shape == np.shape(want) and got.dtype == np.asarray(want).dtype, label
    finite = x[np.isfinite(x)]
    xmax = float(np.abs(finite).max()) if finite.size else 0.0
    bar = 2 * allowed_ulps(op, want, n, xmax, dtype) + CORRECTION_ULPS
    if op == "log_softmax":  # at a row's maximum, -log1p(t) has the conditioning of the
        with np.errstate(all="ignore"):  # exponentials adding up to t: |log t| ULP
            bar = bar + np.where(np.abs(want) < 1, np.abs(np.log(np.abs(want))), 0)
    err = ulp_error(got, want, dtype)
    tiny = float(np.finfo(dtype).smallest_normal)
    small = (np.abs(np.asarray(want, float)) < tiny) & np.isfinite(want)
    with np.errstate(invalid="ignore"):
        bad = np.where(small, np.abs(got.astype(float) - want) >= tiny, err > bar)
    assert not bad.any(), f"{label}: {bad.sum()} values beyond the bar, max {err.max():.1f} ULP"


@pytest.mark.parametrize("op", FWD)
def test_forward_ops_match_the_numpy_api(client, op):
    fn = getattr(fastact, op)
    cases = list(_cases(op))
    lazy = [fn(d, axis=axis, where=where, **kw) for _, _, _, (d, axis, where, kw) in cases]
    assert all(isinstance(r, da.Array) for r in lazy)
    results = dask.compute(*lazy)
    for (label, x, (xn, axis, where, kw), (d, _, _, _)), got, r in zip(cases, results, lazy):
        want = fn(xn, axis=axis, where=where, **kw)
        n = x.size if axis is None else x.shape[axis]
        _assert_close(op, label, np.asarray(got), want, x, n, x.dtype)
        if op != "logsumexp":
            assert r.chunks == d.chunks, label  # the input's chunks


@pytest.mark.parametrize("op", BWD)
def test_backward_ops_match_the_numpy_api(client, op):
    lazy, wanted = [], []
    for name, shape, chunks, axes in CHUNKINGS:
        rng = np.random.default_rng(2)
        x = rng.standard_normal(shape).astype(np.float32) * 3
        grad = rng.standard_normal(shape).astype(np.float32)
        if name == "uneven":
            grad[1, 3] = np.nan  # a NaN row
            grad[2, 8] = np.inf  # an infinite row sum
        for axis in axes:
            forward = fastact.softmax if op == "softmax_backward" else fastact.log_softmax
            y = forward(x, axis=axis)
            fn = getattr(fastact, op)
            wanted.append((f"{op} {name} axis={axis}", fn(grad, y, axis=axis)))
            lazy.append(fn(da.from_array(grad, chunks=chunks), da.from_array(y, chunks=chunks),
                           axis=axis))
    for (label, want), got, r in zip(wanted, dask.compute(*lazy), lazy):
        assert got.dtype == want.dtype and got.shape == want.shape, label
        assert np.array_equal(np.isnan(got), np.isnan(want)), label
        finite = want[np.isfinite(want)]
        scale = np.abs(finite).max() + 1 if finite.size else 1
        np.testing.assert_allclose(got, want, rtol=4e-6, atol=4e-6 * scale, err_msg=label)


def test_activations_bit_for_bit(client):
    pytest.importorskip("fastact._kernels")
    x = logits(np.float32, (9, 40))
    d = da.from_array(x, chunks=(4, (1, 13, 26)))
    calls = [
        lambda a: fastact.gelu(a),
        lambda a: fastact.leaky_relu(a, negative_slope=0.2),
        lambda a: fastact.derivative("elu", a, alpha=0.5),
        lambda a: fastact.backward("silu", abs(a), a),
    ]
    got = dask.compute(*[f(d) for f in calls])
    for f, g in zip(calls, got):
        want = f(x)
        assert g.dtype == want.dtype and np.array_equal(g.view(np.uint32), want.view(np.uint32))


def test_lazy_until_compute_and_one_task_per_chunk():
    calls = []

    def source(block_id=None):
        calls.append(block_id)
        return logits(np.float32, (3, 8), seed=block_id[0] + 7 * block_id[1])

    def blocks(row_chunks):
        return da.map_blocks(source, chunks=((3,) * 3, (8,) * row_chunks), dtype=np.float32,
                             meta=np.empty((0, 0), np.float32))

    with dask.config.set(scheduler="sync"):  # run in this process, where calls are seen
        x, whole_rows = blocks(2), blocks(1)
        calls.clear()
        chunked = [getattr(fastact, op)(x, axis=-1) for op in FWD]
        chunked += [getattr(fastact, op)(x, x, axis=-1) for op in BWD]
        one_chunk_axis = [getattr(fastact, op)(whole_rows, axis=-1) for op in FWD]
        one_chunk_axis += [getattr(fastact, op)(whole_rows, whole_rows) for op in BWD]
        assert not calls  # graphs only
        base = len(whole_rows.__dask_graph__())
        for r in one_chunk_axis:  # the axis lies in one chunk: one task per chunk
            assert len(r.__dask_graph__()) == base + whole_rows.npartitions
        values = dask.compute(*chunked)
        assert calls
        xs = x.compute()
    per_chunk = x.map_blocks(fastact.softmax, dtype=np.float32)  # the silent bug avoided
    with dask.config.set(scheduler="sync"):
        assert not np.allclose(per_chunk.compute(), values[0], rtol=1e-3)
    for op, r, v in zip(FWD + BWD, chunked, values):
        want = getattr(fastact, op)(xs, axis=-1) if op in FWD else getattr(fastact, op)(
            xs, xs, axis=-1)
        assert r.chunks == (x.chunks[:1] if op == "logsumexp" else x.chunks)
        np.testing.assert_allclose(v, want, rtol=1e-5, atol=1e-6, err_msg=op)


def _kernel_threads(block):
    """Inside a task: fastact's thread count, and how many threads the process gained
    while running a kernel large enough for the parallel path."""
    import fastact as fa

    def threads():
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("Threads:"))

    x = np.linspace(-5, 5, 1 << 20, dtype=np.float32).reshape(64, -1)
    fa.log_softmax(x)  # warm
    before = threads()
    for _ in range(3):
        fa.log_softmax(x)
        fa.gelu(x)
    return np.array([[fa.get_num_threads(), threads() - before]])


def test_one_kernel_thread_inside_a_worker(client):
    if not pathlib.Path("/proc/self/status").exists():
        pytest.skip("needs /proc to count threads")
    x = da.zeros((2, 1), chunks=1)
    got = x.map_blocks(_kernel_threads, dtype=int, chunks=(1, 2)).compute()
    assert (got[:, 0] == 1).all(), got  # dask's workers set OMP_NUM_THREADS=1
    assert (got[:, 1] <= 0).all(), got


@pytest.mark.parametrize("dtype", ["float16", "int32", "float64", "bool"])
def test_dtype_rules_match_the_numpy_api(client, dtype):
    x = (np.arange(24).reshape(4, 6) % 5 - 2).astype(dtype)
    d = da.from_array(x, chunks=(2, 4))
    for op in FWD:
        got = getattr(fastact, op)(d).compute()
        want = getattr(fastact, op)(x)
        assert got.dtype == want.dtype, op
        np.testing.assert_allclose(got.astype(float), want.astype(float), rtol=1e-3, err_msg=op)


def test_zero_d_and_empty(client):
    scalar = da.from_array(np.float32(3.0))
    assert fastact.softmax(scalar).compute() == 1.0
    assert fastact.logsumexp(scalar).compute() == np.float32(3.0)
    for shape, chunks in (((0, 5), (1, 2)), ((3, 0), (2, 1)), ((3, 4), (3, 2))):
        x = np.ones(shape, np.float32)
        d = da.from_array(x, chunks=chunks)
        for op in FWD:
            got = getattr(fastact, op)(d, axis=-1).compute()
            assert np.array_equal(got, getattr(fastact, op)(x, axis=-1)), (op, shape)


def test_mixed_inputs_and_errors():
    x = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    d = da.from_array(x, chunks=(2, 3))
    w = x > 0
    with dask.config.set(scheduler="sync"):
        r = fastact.softmax(x, where=da.from_array(w, chunks=3))  # only the mask is dask
        assert isinstance(r, da.Array)
        np.testing.assert_allclose(r.compute(), fastact.softmax(x, where=w), rtol=1e-6)
        g = fastact.softmax_backward(d, x)  # NumPy y with dask grad
        np.testing.assert_allclose(g.compute(), fastact.softmax_backward(x, x), rtol=1e-5)
    with pytest.raises(TypeError, match="out="):
        fastact.softmax(d, out=np.empty((4, 6), np.float32))
    with pytest.raises(TypeError, match="complex"):
        fastact.softmax(d.astype(np.complex64))
    with pytest.raises(np.exceptions.AxisError):
        fastact.log_softmax(d, axis=2)
    with pytest.raises(TypeError, match="boolean"):
        fastact.softmax(d, where=d)
    with pytest.raises(ValueError, match="broadcast"):
        fastact.softmax(d, where=np.ones(5, bool))
    with pytest.raises(TypeError, match="where"):
        fastact.softmax_backward(d, d, where=w)
    with pytest.raises(ValueError, match="shape"):
        fastact.softmax_backward(d, d[:, :4])


def test_example_pipeline_small(client, tmp_path, capsys):
    pytest.importorskip("zarr")
    path = pathlib.Path(__file__).parents[1] / "examples" / "dask_pipeline.py"
    spec = importlib.util.spec_from_file_location("dask_pipeline", path)
    example = types.ModuleType("dask_pipeline")
    spec.loader.exec_module(example)
    args = example.parse_args(["--gib", "0.002", "--row-length", "1000", "--chunk-mib", "0.1",
                               "--workdir", str(tmp_path), "--check", "--quiet"])
    source, target = example.paths(args)
    example.make_input(source, *example.input_shape(args), client, args.quiet)
    seconds, peaks = example.run(client, args, source, target)
    assert len(peaks) == 2 and seconds > 0
    assert "match" in capsys.readouterr().out
