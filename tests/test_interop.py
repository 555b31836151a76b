"""Array types beyond ndarray (dask, xarray, masked arrays), bfloat16, and thread control
that cooperates (OMP_NUM_THREADS, threadpoolctl, fastact.threads)."""
import numpy as np
import pytest

import fastact
from tests.test_api import _python

pytest.importorskip("fastact._kernels")


def _bits_equal(a, b):
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(
        a.view(np.uint8), b.view(np.uint8))


# ------------------------------------------------------------------ dask
def test_dask_stays_lazy_one_task_per_chunk():
    da = pytest.importorskip("dask.array")
    computed = []

    def source(block_id=None):
        computed.append(block_id)
        return np.linspace(-3, 3, 4000, dtype=np.float32).reshape(4, 1000)

    x = da.map_blocks(source, chunks=((4,) * 5, (1000,)), dtype=np.float32,
                      meta=np.empty((0, 0), np.float32))
    computed.clear()  # (dask may probe the function while building x)
    y = fastact.gelu(x)
    g = fastact.backward("leaky_relu", y, x, negative_slope=0.2)
    assert isinstance(y, da.Array) and y.dtype == np.float32 and not computed
    assert len(y.__dask_graph__()) == len(x.__dask_graph__()) + x.npartitions
    assert y.chunks == x.chunks
    assert _bits_equal(y.compute(), fastact.gelu(x.compute()))
    assert computed
    with pytest.raises(TypeError, match="x="):
        fastact.backward("sigmoid", x, y=x)
    assert _bits_equal(g.compute(), fastact.backward(
        "leaky_relu", fastact.gelu(x.compute()), x.compute(), negative_slope=0.2))


def test_dask_dtype_rules_match_the_public_functions():
    da = pytest.importorskip("dask.array")
    for dtype in (np.float16, np.int32, np.float64):
        x = np.arange(-4, 4).astype(dtype)
        got = fastact.silu(da.from_array(x, chunks=3))
        assert _bits_equal(got.compute(), fastact.silu(x)), dtype


def test_softmax_family_takes_dask_lazily():
    da = pytest.importorskip("dask.array")
    x = da.ones((4, 6), chunks=2)
    for func in (fastact.softmax, fastact.logsumexp):
        assert isinstance(func(x, axis=-1), da.Array)  # tested in full in test_dask


# ------------------------------------------------------------------ xarray
def test_xarray_keeps_dims_coords_attrs():
    xr = pytest.importorskip("xarray")
    a = xr.DataArray(np.linspace(-2, 2, 6).reshape(2, 3), dims=("t", "c"),
                     coords={"t": [10, 20], "c": ["a", "b", "c"]}, attrs={"units": "V"})
    for r in (fastact.elu(a, alpha=0.5), fastact.derivative("elu", a, alpha=0.5)):
        assert isinstance(r, xr.DataArray) and r.dims == a.dims and r.attrs == a.attrs
        assert list(r.coords["c"].values) == ["a", "b", "c"]
    assert _bits_equal(fastact.elu(a, alpha=0.5).values, fastact.elu(a.values, alpha=0.5))
    with pytest.raises(TypeError, match="DataArray"):
        fastact.softmax(a)


# ------------------------------------------------------------------ masked arrays
def test_masked_array_keeps_its_mask():
    m = np.ma.array(np.linspace(-2, 2, 5), mask=[0, 1, 0, 0, 1])
    r = fastact.gelu(m)
    assert isinstance(r, np.ma.MaskedArray) and list(r.mask) == list(m.mask)
    assert _bits_equal(r.data[~m.mask], fastact.gelu(m.data)[~m.mask])
    with pytest.raises(TypeError, match="where="):
        fastact.log_softmax(m)


class _Tagged(np.ndarray):
    pass


def test_plain_ndarray_subclass_keeps_its_type():
    x = np.array([[-1.0, 2.0]]).view(_Tagged)
    r = fastact.relu(x)
    assert type(r) is _Tagged and np.array_equal(r, [[0.0, 2.0]])


# ------------------------------------------------------------------ bfloat16
def test_bfloat16_round_trip():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    bf16 = np.dtype(ml_dtypes.bfloat16)
    x = np.linspace(-5, 5, 41).astype(bf16)
    x32 = x.astype(np.float32)
    y = fastact.gelu(x)
    assert y.dtype == bf16
    assert _bits_equal(y, fastact.gelu(x32).astype(bf16))
    assert fastact.backward("gelu", x, x).dtype == bf16
    assert fastact.softmax(x).dtype == bf16
    assert _bits_equal(fastact.ufuncs.gelu(x), y)
    assert _bits_equal(fastact.ufuncs.leaky_relu_backward(x, x[::-1], 0.01),
                       fastact.backward("leaky_relu", x, x[::-1], negative_slope=0.01))


def test_bfloat16_ufunc_loops_when_ml_dtypes_comes_later():
    pytest.importorskip("ml_dtypes")
    r = _python("import numpy as np, fastact; u = fastact.ufuncs.relu; import ml_dtypes; "
                "print(u(np.ones(3, ml_dtypes.bfloat16)).dtype)")
    assert r.stdout.strip() == "bfloat16", r.stderr


def test_bfloat16_in_dask():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    da = pytest.importorskip("dask.array")
    x = np.linspace(-5, 5, 41).astype(ml_dtypes.bfloat16)
    assert _bits_equal(fastact.gelu(da.from_array(x, chunks=10)).compute(), fastact.gelu(x))


def test_optional_packages_are_not_imported():
    r = _python("import sys, numpy as np, fastact; fastact.gelu(np.ones(3)); "
                "print([m for m in ('dask', 'xarray', 'ml_dtypes', 'threadpoolctl') "
                "if m in sys.modules])")
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stderr


# ------------------------------------------------------------------ threads
def test_omp_num_threads_gives_the_default():
    code = "import fastact; print(fastact.get_num_threads())"
    env = {"FASTACT_NUM_THREADS": "", "OMP_NUM_THREADS": "1"}
    assert _python(code, env).stdout.strip() == "1"
    env = {"FASTACT_NUM_THREADS": "2", "OMP_NUM_THREADS": "1"}
    assert _python(code, env).stdout.strip() == "2"  # FASTACT_NUM_THREADS first


def test_threads_context_manager():
    start = fastact.get_num_threads()
    with fastact.threads(1) as n:
        assert n == 1 and fastact.get_num_threads() == 1
    assert fastact.get_num_threads() == start


@pytest.mark.parametrize("import_first", ["fastact", "threadpoolctl"])
def test_threadpoolctl_sees_and_limits_fastact(import_first):
    pytest.importorskip("threadpoolctl")
    other = "threadpoolctl" if import_first == "fastact" else "fastact"
    code = f"""if True:
        import {import_first}, {other}, numpy as np
        fastact.set_num_threads(2); fastact.gelu(np.ones(3))
        info = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "fastact"]
        with threadpoolctl.threadpool_limits(1):
            inside = fastact.get_num_threads()
        print(len(info), info[0]["num_threads"], inside, fastact.get_num_threads())
    """
    r = _python(code)
    assert r.stdout.split() == ["1", "2", "1", "2"], r.stderr
