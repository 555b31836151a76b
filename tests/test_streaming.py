"""The elementwise loops' streaming-store path and launch policy, in both compiled backends.

With the stream threshold lowered to 0 every call whose ``out`` overlaps no input takes
the streamed path (a tile in L1, copied out by non-temporal stores); its results must be
the plain path's bits for every kernel and mode, at any thread count and any alignment
of ``out`` (head and tail lines written by the loop itself), inputs untouched, and an
in-place call (``out is x``) must stay correct.  Also: the thresholds come from
``fastact._constants``, and the streamed Numba driver really emits non-temporal stores.
"""
import contextlib

import numpy as np
import pytest

import fastact
from fastact import _constants, _machine
from fastact._registry import all_kernel_ids, kernel_modes, kernel_params_for, memory_bound

from tests._arrays import large_array, specials

N = 4099  # several tiles of 8 KiB in float32 and float64, plus a partial one


def _inputs(n, dtype, seed=0):
    """x with every special value (NaN, +-inf, +-0, subnormals, ...) spread over it, and grad."""
    x = large_array(n, dtype, seed, scale=4.0)
    x[::37] = np.resize(specials(dtype), x[::37].size)
    return x, large_array(n, dtype, seed + 1, scale=1.0)


def _cython():
    if "cython" not in fastact.backends():
        pytest.skip("cython backend unavailable")
    from fastact import _cython

    return _cython


@contextlib.contextmanager
def _streaming(backend, on=True):
    """Every call of ``backend`` streams (on) or none does, for the block."""
    value = 0 if on else 1 << 62
    if backend == "cython":
        module = _cython()._module
        old = module._set_stream_min(value)
        try:
            yield
        finally:
            module._set_stream_min(old)
    else:
        from fastact import _numba

        old = _numba.STREAM_MIN_BYTES
        if old is None:
            pytest.skip("no streaming stores on this platform")
        _numba.STREAM_MIN_BYTES = value
        try:
            yield
        finally:
            _numba.STREAM_MIN_BYTES = old


def _misaligned_like(x, shift):
    """An empty array of x's shape and dtype starting ``shift`` elements past a 64-byte line."""
    buf = np.empty(x.size + 64, x.dtype)
    start = (-buf.ctypes.data % 64) // x.itemsize + shift
    return buf[start:start + x.size]


def _call(kernel, x, g, mode, kid, n_threads, out):
    kernel(out, x, g if "backward" in mode else None, kernel_params_for(kid), n_threads)
    return out


def test_thresholds_live_in_the_constants():
    assert _constants.STREAM_MIN_BYTES % 64 == 0 and _constants.STREAM_TILE_BYTES % 64 == 0
    assert memory_bound("relu", "forward") and memory_bound("sigmoid", "backward_y")
    assert not memory_bound("sigmoid", "forward")
    cy = _cython()
    if cy.config()["stream_min_bytes"] is not None:
        assert cy.config()["stream_min_bytes"] == _machine.stream_min_bytes()
        assert 64 <= _machine.stream_min_bytes() <= _constants.STREAM_MIN_BYTES
    if "numba" in fastact.backends():
        from fastact import _numba

        assert _numba.config()["stream_min_bytes"] in (None, _machine.stream_min_bytes())
    assert cy.config()["parallel_min"] == _constants.CYTHON_PARALLEL_MIN_ELEMENTS
    assert cy.config()["parallel_min_cheap"] == _constants.CYTHON_PARALLEL_MIN_ELEMENTS_CHEAP


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cython_streamed_bits_equal_plain_bits_for_every_kernel(dtype):
    cy = _cython()
    x, g = _inputs(N, dtype)
    x0, g0 = x.copy(), g.copy()
    for kid in all_kernel_ids():
        for mode in kernel_modes(kid):
            kernel = cy.get_elementwise(kid, mode)
            with _streaming("cython", False):
                ref = _call(kernel, x, g, mode, kid, 1, np.empty_like(x))
            with _streaming("cython", True):
                for n_threads, shift in ((1, 0), (2, 1), (3, 3)):
                    got = _call(kernel, x, g, mode, kid, n_threads, _misaligned_like(x, shift))
                    assert got.tobytes() == ref.tobytes(), (kid, mode, n_threads, shift)
    assert x.tobytes() == x0.tobytes() and g.tobytes() == g0.tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_streamed_path_through_the_public_api(backend, dtype):
    """Every length from one element to a few lines (head and tail cases), in place too."""
    if backend == "numpy":
        pytest.skip("the NumPy reference has no loop drivers")
    if backend == "numba" and dtype == np.float64:
        pytest.skip("one dtype for Numba: each dtype compiles the streamed driver (CI time)")
    x, g = _inputs(N, dtype, seed=1)
    with _streaming(backend, False), fastact.use_backend(backend):
        ref = fastact.relu(x)
        ref_b = fastact.backward("gelu", g, x)
    with _streaming(backend, True), fastact.use_backend(backend), fastact.threads(2):
        for n in list(range(1, 40)) + [N]:
            out = _misaligned_like(x[:n], n % 5)
            assert fastact.relu(x[:n], out=out) is out
            assert out.tobytes() == ref[:n].tobytes(), n
        got = fastact.backward("gelu", g, x, out=_misaligned_like(x, 2))
        assert got.tobytes() == ref_b.tobytes()
        inplace = x.copy()
        assert fastact.relu(inplace, out=inplace) is inplace
        assert inplace.tobytes() == ref.tobytes()
        grad = g.copy()
        assert fastact.backward("gelu", grad, x, out=grad) is grad
        assert grad.tobytes() == ref_b.tobytes()


def test_numba_prefetched_driver_gives_the_serial_bits():
    """A large memory-bound kernel with plain stores runs in output blocks with write
    prefetch (on the threads, and through the driver on one thread): the serial loop's bits
    at every length around a block and a chunk."""
    if "numba" not in fastact.backends():
        pytest.skip("numba unavailable")
    from fastact import _numba

    assert _numba.config()["write_prefetch_min_bytes"] == _constants.NUMBA_WRITE_PREFETCH_MIN_BYTES
    x, g = _inputs(N, np.float32, seed=2)
    kernel = _numba.get_elementwise("relu", "backward_y")
    ref = _call(kernel, x, g, "backward_y", "relu", 1, np.empty_like(x))
    old = _numba.PARALLEL_MIN_BYTES_CHEAP, _numba.PREFETCH_MIN_BYTES
    _numba.PARALLEL_MIN_BYTES_CHEAP = _numba.PREFETCH_MIN_BYTES = 1
    try:
        with _streaming("numba", False):
            for n_threads in (1, 2):
                for n in (1, 511, 512, 513, 1025, N):
                    out = _misaligned_like(x[:n], n % 3)
                    got = _call(kernel, x[:n], g[:n], "backward_y", "relu", n_threads, out)
                    assert got.tobytes() == ref[:n].tobytes(), (n_threads, n)
    finally:
        _numba.PARALLEL_MIN_BYTES_CHEAP, _numba.PREFETCH_MIN_BYTES = old


def test_numba_streamed_driver_emits_non_temporal_stores():
    if "numba" not in fastact.backends():
        pytest.skip("numba unavailable")
    import numba

    from fastact._numba import _parallel, _stream

    if not _stream.AVAILABLE:
        pytest.skip("no streaming stores on this platform")
    # compiled afresh: code loaded from the disk cache has no assembly to inspect
    fresh = numba.njit(cache=False)(_parallel._tiled.py_func)
    arr = numba.types.Array(numba.types.float32, 1, "C")
    fresh.compile((numba.types.intp, arr, arr, arr, numba.types.float32, numba.types.float32, arr,
                   numba.types.boolean))
    asm = "\n".join(fresh.inspect_asm().values())
    assert "vmovnt" in asm or "movnt" in asm
