"""Kernel internals of the softmax family (numba and cython row kernels).

The shared suite (test_softmax.py) checks the public API against mpmath and
the reference; this file calls the backend kernels ``kernel(out, x, grad,
mask, n_threads)`` directly and checks what only the kernels decide:

* results bitwise independent of the thread count, on every plan (serial,
  rows split between threads, one long row split into fixed blocks);
* the long-row shapes (1, 50257), (3, 10000) and (4096, 2048);
* out identical to an input (in place);
* float32 accuracy against the float64 reference;
* masks (including fully masked rows), rows with +inf / NaN / -inf;
* log_softmax at the maximum element against mpmath (the log1p formulation),
  including sums of subnormal terms.
"""
import numpy as np
import pytest

from fastact import _backends, _reference
from fastact._registry import ROW_OPS

KERNEL_BACKENDS = [b for b in ("numba", "cython") if b in _backends.available()]
OPS = [op.name for op in ROW_OPS]
FORWARD = [op.name for op in ROW_OPS if not op.backward]
FLOATS = [np.float32, np.float64]
THREADS = (1, 2, 3, 4, 8)

pytestmark = pytest.mark.skipif(not KERNEL_BACKENDS, reason="no compiled backend here")


def kernel(backend, op):
    return _backends.load(backend).get_rowwise(op)


def inputs(op, shape, dtype, seed=0, mask=False):
    """(x or y, grad, mask) for op on a (rows, n) shape."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * np.array([1.0, 8.0, 40.0])[np.arange(shape[0]) % 3][:, None])
    x = x.astype(dtype)
    grad = None
    if op.endswith("_backward"):
        fwd = op.replace("_backward", "")
        y = np.empty_like(x)
        _reference.get_rowwise(fwd)(y, x, None, None, 1)
        x, grad = y, rng.standard_normal(shape).astype(dtype)
    m = (rng.random(shape) < 0.7) if mask and not op.endswith("_backward") else None
    return x, grad, m


def run(kb, op, x, grad=None, mask=None, n_threads=1, out=None):
    if out is None:
        out = np.empty(x.shape[:1] if op == "logsumexp" else x.shape, x.dtype)
    kernel(kb, op)(out, x, grad, mask, n_threads)
    return out


def reference(op, x, grad=None, mask=None):
    out = np.empty(x.shape[:1] if op == "logsumexp" else x.shape, x.dtype)
    _reference.get_rowwise(op)(out, x, grad, mask, 1)
    return out


def assert_close(got, want, dtype, ulps=16, scale=None):
    """got == want within ulps eps relative (+ ulps eps * scale absolute: the backward
    ops cancel, so they are compared relative to the size of their terms)."""
    g, w = got.astype(np.float64), want.astype(np.float64)
    same = (g == w) | (np.isnan(g) & np.isnan(w))
    eps = float(np.finfo(dtype).eps)
    tiny = float(np.finfo(dtype).smallest_normal)
    atol = 2 * tiny if scale is None else ulps * eps * scale + 2 * tiny
    with np.errstate(invalid="ignore"):
        ok = np.abs(g - w) <= ulps * eps * np.abs(w) + atol
    bad = ~(same | ok)
    assert not bad.any(), f"{bad.sum()} mismatches, e.g. got {got[bad][:4]} want {want[bad][:4]}"


def backward_scale(op, y, grad):
    """Size of the terms of dx (y g and y sum(g y), or g and exp(y) sum(g)), per element."""
    if grad is None:
        return None
    y, g = y.astype(np.float64), grad.astype(np.float64)
    if op == "softmax_backward":
        return np.abs(y) * (np.abs(g) + np.abs(g * y).sum(axis=-1, keepdims=True))
    return np.abs(g) + np.exp(y) * np.abs(g).sum(axis=-1, keepdims=True)


# ----------------------------------------------------------- thread-count invariance
@pytest.mark.parametrize("kb", KERNEL_BACKENDS)
@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", [(1, 50257), (3, 10000), (5, 2049), (700, 300), (2, 40000)])
@pytest.mark.parametrize("op", OPS)
def test_bitwise_independent_of_threads(op, shape, dtype, kb):
    for mask in (False, True):
        x, grad, m = inputs(op, shape, dtype, seed=shape[1], mask=mask)
        first = run(kb, op, x, grad, m, n_threads=1)
        for t in THREADS[1:]:
            again = run(kb, op, x, grad, m, n_threads=t)
            assert np.array_equal(first, again, equal_nan=True), (op, shape, t, mask)
        assert_close(first, reference(op, x, grad, m), dtype, ulps=64,
                     scale=backward_scale(op, x, grad))


@pytest.mark.parametrize("kb", KERNEL_BACKENDS)
@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("op", ["softmax", "log_softmax", "softmax_backward"])
def test_large_batch(op, dtype, kb):
    x, grad, _ = inputs(op, (4096, 2048), dtype, seed=3)
    a = run(kb, op, x, grad, n_threads=1)
    b = run(kb, op, x, grad, n_threads=2)
    assert np.array_equal(a, b)
    if op == "softmax":
        assert np.allclose(a.sum(axis=-1, dtype=np.float64), 1, rtol=0, atol=1e-5)
    rows = slice(0, 4096, 257)
    want = reference(op, x[rows], None if grad is None else grad[rows])
    assert_close(a[rows], want, dtype, ulps=64,
                 scale=backward_scale(op, x[rows], None if grad is None else grad[rows]))


@pytest.mark.parametrize("kb", KERNEL_BACKENDS)
@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("n", [1000, 2047, 5000])
@pytest.mark.parametrize("op", OPS)
def test_large_arrays_same_bits_as_small(op, n, dtype, kb):
    """Arrays past the caches take other paths (next-row prefetch, streaming stores,
    here into an out misaligned by one element): each row keeps the bits it gets alone."""
    rows = (9 << 20) // (n * np.dtype(dtype).itemsize) + 1
    for mask in (False, True):
        x, grad, m = inputs(op, (rows, n), dtype, seed=n, mask=mask)
        out = None
        if op != "logsumexp":
            out = np.empty(x.size + 1, dtype)[1:].reshape(x.shape)
        big = run(kb, op, x, grad, m, n_threads=2, out=out)
        for r in (0, 1, rows // 2, rows - 1):
            part = slice(r, r + 1)
            alone = run(kb, op, x[part], None if grad is None else grad[part],
                        None if m is None else m[part])
            assert np.array_equal(big[part], alone, equal_nan=True), (op, n, r, mask)


@pytest.mark.parametrize("kb", KERNEL_BACKENDS)
@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("n", [1500, 2048, 2049, 4096, 50257])
@pytest.mark.parametrize("op", ["softmax", "softmin", "log_softmax"])
def test_large_long_rows_with_special_rows(op, n, dtype, kb):
    """Rows of over 1024 in arrays past the caches: each row's final pass is streamed
    during the next row's exp pass (cython's wave, from a rotated start).  Rows of NaN / +-inf between them (alone, in pairs, first and last),
    out aligned, misaligned and in place, 1-3 threads: every row keeps the bits
    the same rows get in small pieces (which scale in place)."""
    rows = (9 << 20) // (n * np.dtype(dtype).itemsize) + 2
    x, _, _ = inputs(op, (rows, n), dtype, seed=n)
    # each row's max where a pass over blocks could miss it (the wave takes the next
    # row's max inside this row's exp pass), rows of negative numbers only
    for r, pos in zip(range(3, 13), (0, n - 1, 2047, 2048, n - 2, n // 2, 1, n - 1, 0, 2047)):
        pos %= n
        x[r] = -np.abs(x[r]) - 3 if r % 2 else x[r]
        x[r, pos] = (x[r].min() if op == "softmin" else x[r].max()) + (-1 if op == "softmin" else 1)
    for r, v in ((0, np.nan), (1, np.inf), (2, -np.inf), (rows // 2, np.nan),
                 (rows // 2 + 1, np.inf), (rows - 1, -np.inf)):
        x[r, r % n] = v
        if v == -np.inf:
            x[r] = v                                          # a row of -inf only
    want = np.concatenate([run(kb, op, x[r:r + 16]) for r in range(0, rows, 16)])
    for n_threads in (1, 2, 3):
        aligned = run(kb, op, x, n_threads=n_threads)
        shifted = run(kb, op, x, n_threads=n_threads,
                      out=np.empty(x.size + 1, dtype)[1:].reshape(x.shape))
        xi = x.copy()
        run(kb, op, xi, n_threads=n_threads, out=xi)
        for got in (aligned, shifted, xi):
            assert np.array_equal(got, want, equal_nan=True), (n_threads,)


@pytest.mark.parametrize("kb", KERNEL_BACKENDS)
@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("n", [1, 7, 16, 33, 64, 65])
@pytest.mark.parametrize("op", ["softmax", "softmin"])
def test_short_rows_special_in_place(op, n, dtype, kb):
    """Rows of up to 64 (cython: in registers, the general path for special rows):
    rows with a NaN of either sign, +-inf, all -inf, in place and not, 1-3 threads,
    give the bits of the same rows one at a time."""
    x, _, _ = inputs(op, (40, n), dtype, seed=n)
    x[0, 0] = np.copysign(np.nan, -1)
    x[1, n // 2] = np.nan
    up = 1 if op == "softmax" else -1                  # softmin's logits are -x
    x[2, n - 1] = up * np.inf
    x[3] = -up * np.inf
    x[4, 0] = -up * np.inf
    x[5, n - 1] = -up * np.inf
    want = np.concatenate([run(kb, op, x[r:r + 1]) for r in range(len(x))])
    assert np.isnan(want[:3]).all() and not np.isnan(want[6:]).any()
    for n_threads in (1, 2, 3):
        assert np.array_equal(run(kb, op, x, n_threads=n_threads), want, equal_nan=True)
        xi = x.copy()
        run(kb, op, xi, n_threads=n_threads, out=xi)
        assert np.array_equal(xi, want, equal_nan=True), n_threads


@pytest.mark.parametrize("kb", KERNEL_BACKENDS)
@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("n", [1, 16, 64, 65, 256, 257])
@pytest.mark.parametrize("op", ["log_softmax", "logsumexp"])
def test_short_log_rows_special(op, n, dtype, kb):
    """log_softmax / logsumexp short rows (cython: batches of 16 rows, their logs in one
    loop; special rows by the general path): 37 rows (not a multiple of the batch) with
    NaN, +-inf and all -inf rows at and across batch edges, 1-3 threads, in place, give
    the bits of the same rows one at a time (cython: and of the masked, general path)."""
    x, _, _ = inputs(op, (37, n), dtype, seed=n)
    x[0, 0] = np.copysign(np.nan, -1)
    x[15, n // 2] = np.nan
    x[16, n - 1] = np.inf
    x[17] = -np.inf
    x[31, 0] = -np.inf
    x[36] = x[36, 0]                                   # all ties
    want = np.concatenate([run(kb, op, x[r:r + 1]) for r in range(len(x))])
    assert np.isnan(want[[0, 15]]).all() and not np.isnan(want[18:]).any()
    if kb == "cython":                                 # masked rows: the general path
        assert np.array_equal(run(kb, op, x, mask=np.ones(x.shape, bool)), want, equal_nan=True)
    for n_threads in (1, 2, 3):
        assert np.array_equal(run(kb, op, x, n_threads=n_threads), want, equal_nan=True)
        if op == "log_softmax":
            xi = x.copy()
            run(kb, op, xi, n_threads=n_threads, out=xi)
            assert np.array_equal(xi, want, equal_nan=True), n_threads


@pytest.mark.parametrize("kb", KERNEL_BACKENDS)
@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("n", [1, 7, 16, 33, 64])
@pytest.mark.parametrize("op", ["softmax_backward", "log_softmax_backward"])
def test_short_backward_rows(op, n, dtype, kb):
    """Backward rows of up to 64 (cython: in registers; rows of up to 16 in batches of
    16, float32 and float64): 37 rows, some with y above 0, far below, +-inf or NaN, 1-2 threads,
    in place of y and of grad, give the bits of the same rows one at a time, and the
    reference's values."""
    y, g, _ = inputs(op, (37, n), dtype, seed=n)
    for r, v in zip((3, 15, 16, 20, 30), (0.5, -120.0, -np.inf, np.inf, np.nan)):
        y[r, n // 2] = v
    want = np.concatenate([run(kb, op, y[r:r + 1], g[r:r + 1]) for r in range(len(y))])
    with np.errstate(all="ignore"):
        assert_close(want, reference(op, y, g), dtype, scale=backward_scale(op, y, g))
    for n_threads in (1, 2):
        assert np.array_equal(run(kb, op, y, g, n_threads=n_threads), want, equal_nan=True)
        for target in ("y", "grad"):
            yi, gi = y.copy(), g.copy()
            run(kb, op, yi, gi, n_threads=n_threads, out=yi if target == "y" else gi)
            assert np.array_equal(yi if target == "y" else gi, want, equal_nan=True), target


@pytest.mark.skipif(KERNEL_BACKENDS != ["numba", "cython"], reason="needs both backends")
@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("n", [257, 1000, 2047, 2049, 5000])
def test_softmax_backward_long_rows_same_bits_in_both_backends(n, dtype):
    """softmax_backward rows longer than Numba's short rows: both backends sum g y in one
    order (groups of 64, the tail in double lanes, the lanes pairwise): the same bits."""
    y, g, _ = inputs("softmax_backward", (9, n), dtype, seed=n)
    for n_threads in (1, 2):
        got = run("numba", "softmax_backward", y, g, n_threads=n_threads)
        assert np.array_equal(got, run("cython", "softmax_backward", y, g, n_threads=n_threads))


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("n", [16, 33])
@pytest.mark.parametrize("op", ["log_softmax", "logsumexp"])
def test_short_rows_batches_numba(op, n, dtype):
    """Numba's short rows run in batches of 16, each row finished one batch later:
    special rows at the batches' edges, in place and not, 1-3 threads (chunks cut
    batches anywhere) give the bits of the rows one at a time, close to the
    reference."""
    if "numba" not in KERNEL_BACKENDS:
        pytest.skip("no numba")
    x, _, _ = inputs(op, (4099, n), dtype, seed=n)  # over 128 KiB: 2-3 threads split it
    x[15, 3] = np.nan
    x[16] = -np.inf
    x[31, n - 1] = np.inf
    x[2049, 0] = np.nan
    want = np.concatenate([run("numba", op, x[r:r + 1]) for r in range(len(x))])
    assert_close(want, reference(op, x), dtype, ulps=4)
    for n_threads in (1, 2, 3):
        assert np.array_equal(run("numba", op, x, n_threads=n_threads), want, equal_nan=True)
        if op != "logsumexp":
            xi = x.copy()
            run("numba", op, xi, n_threads=n_threads, out=xi)
            assert np.array_equal(xi, want, equal_nan=True), n_threads


# ------------------------------------------------------------------- in place
@pytest.mark.parametrize("kb", KERNEL_BACKENDS)
@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", [(6, 7), (2, 50257), (64, 1000)])
@pytest.mark.parametrize("op", [o for o in OPS if o != "logsumexp"])
def test_in_place(op, shape, dtype, kb):
    for n_threads in (1, 2):
        for mask in (False, True):
            x, grad, m = inputs(op, shape, dtype, seed=7, mask=mask)
            want = run(kb, op, x, grad, m, n_threads)
            targets = ["x"] + (["grad"] if grad is not None else [])
            for target in targets:
                xi, gi = x.copy(), None if grad is None else grad.copy()
                out = xi if target == "x" else gi
                run(kb, op, xi, gi, m, n_threads, out=out)
                assert np.array_equal(out, want, equal_nan=True), (target, n_threads, mask)


# --------------------------------------------------------------- float32 accuracy
@pytest.mark.parametrize("kb", KERNEL_BACKENDS)
@pytest.mark.parametrize("n", [7, 2048, 50257])
@pytest.mark.parametrize("op", FORWARD)
def test_float32_against_float64(op, n, kb):
    """float32 kernels against the float64 result of the same float32 logits.

    log_softmax and logsumexp carry x - m exactly (TwoSum): ~1 ULP for any
    logits.  softmax/softmin round t = x - m once, as PyTorch and NumPy do (and
    as the accuracy bar of test_softmax allows): that moves p by up to |t| ULP,
    so their bar is 3 + |t| ULP (and 3 ULP where |t| < 1, the largest p)."""
    x32, _, _ = inputs(op, (3, n), np.float32, seed=n)
    got = run(kb, op, x32)
    true = reference(op, x32.astype(np.float64))
    want = true.astype(np.float32)
    tiny = float(np.finfo(np.float32).smallest_normal)
    with np.errstate(divide="ignore", invalid="ignore"):
        ulp = np.abs(got.astype(np.float64) - true) / np.spacing(np.abs(want)).astype(np.float64)
    normal = np.abs(true) >= tiny
    if op == "logsumexp":
        bar = 6
    elif op == "log_softmax":
        bar = 3
    else:
        v = -x32.astype(np.float64) if op == "softmin" else x32.astype(np.float64)
        bar = 3 + (v.max(axis=1, keepdims=True) - v)
    assert np.nanmax(np.where(normal, ulp - bar, 0)) <= 0
    assert np.all(np.abs(got.astype(np.float64) - true)[~normal] < tiny)


# ----------------------------------------------------------- masks and special rows
SPECIAL_ROWS = {
    "finite": [1.0, 2.0, 3.0, -1.0, 0.5],
    "+inf": [1.0, np.inf, 3.0, -1.0, 0.5],
    "nan": [1.0, 2.0, np.nan, -1.0, 0.5],
    "-nan": [1.0, 2.0, -np.nan, -1.0, 0.5],
    "-inf": [-np.inf, 2.0, -np.inf, -1.0, 0.5],
    "all -inf": [-np.inf] * 5,
    "nan and -inf": [-np.inf, np.nan, -np.inf, -np.inf, -np.inf],
    "nan and +inf": [np.inf, np.nan, 1.0, 2.0, 3.0],
    "ties": [3.0, 3.0, 1.0, 3.0, -2.0],
    "1e8": [1e8, 1e8 - 1, 1e8 - 30, -1e8, 0.0],
    "-1e8": [-1e8, -1e8 + 1, -1e8 - 30, -1e8 + 2, -3e8],
}


@pytest.mark.parametrize("kb", KERNEL_BACKENDS)
@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("op", FORWARD)
def test_special_rows_and_masks(op, dtype, kb):
    # each special row, repeated so that every plan (serial, rows, blocks) sees it
    base = np.array(list(SPECIAL_ROWS.values()), dtype=dtype)
    for reps, n_threads in ((1, 1), (1, 2), (500, 2), (2000, 2)):
        x = np.tile(base, (1, reps))
        rng = np.random.default_rng(reps)
        masks = [None, rng.random(x.shape) < 0.6, np.zeros(x.shape, bool)]
        masks[1][::3] = True
        for m in masks:
            got = run(kb, op, x, None, m, n_threads)
            want = reference(op, x, None, m)
            nan_got, nan_want = np.isnan(got), np.isnan(want)
            assert np.array_equal(nan_got, nan_want), (op, reps, m is not None)
            assert_close(got, want, dtype, ulps=64)
    # the documented values on fully masked / empty rows
    x = np.array([[np.inf, 1.0], [np.nan, 2.0], [1.0, 2.0]], dtype)
    m = np.array([[False, True], [False, True], [False, False]])
    got = run(kb, op, x, None, m, 1)
    expect = {
        "softmax": [[0, 1], [0, 1], [0, 0]],
        "softmin": [[0, 1], [0, 1], [0, 0]],
        "log_softmax": [[-np.inf, 0], [-np.inf, 0], [-np.inf, -np.inf]],
        "logsumexp": [1.0, 2.0, -np.inf],
    }[op]
    assert np.array_equal(got, np.array(expect, dtype))


# ------------------------------------------------------ log_softmax at the maximum
@pytest.mark.parametrize("kb", KERNEL_BACKENDS)
@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
def test_log_softmax_at_the_max_against_mpmath(dtype, kb):
    """log_softmax(x)_argmax = -log1p(s): a few ULP even when s is tiny (down to sums of
    subnormal exponentials), where x - m - log(sum) would return 0."""
    mpmath = pytest.importorskip("mpmath")
    gaps = [1.0, 10.0, 30.0, 60.0, 80.0, 86.0, 87.5, 90.0, 100.0, 300.0, 700.0, 740.0]
    fi = np.finfo(dtype)
    rows = []
    for gap in gaps:
        rows.append([5.0, 5.0 - gap, 5.0 - gap * 1.01, 5.0 - gap * 1.5])
        rows.append([0.25] + [0.25 - gap] * 3)  # several equal small terms
    x = np.array(rows, dtype=dtype)
    got = run(kb, "log_softmax", x)
    mpmath.mp.dps = 50
    for r, row in enumerate(x):
        vals = [mpmath.mpf(float(v)) for v in row]
        m = max(vals)
        k = vals.index(m)
        # (v - m) - log1p(s): no cancellation of m against log(sum) at 50 digits
        rest = mpmath.fsum(mpmath.exp(v - m) for i, v in enumerate(vals) if i != k)
        for j in range(len(vals)):
            true = (vals[j] - m) - mpmath.log1p(rest)
            t = float(true)
            if not np.isfinite(t) or abs(t) > float(fi.max):
                continue
            want = dtype(t)
            if abs(t) < float(fi.smallest_normal):
                assert abs(float(got[r, j]) - t) < float(fi.smallest_normal), (r, j)
            else:
                err = abs(float(got[r, j]) - t) / float(np.spacing(np.abs(want)))
                assert err <= 2, (row, j, got[r, j], t, err)


@pytest.mark.parametrize("kb", KERNEL_BACKENDS)
@pytest.mark.parametrize("dtype, t", [(np.float32, -95.0), (np.float64, -715.0)],
                         ids=["float32", "float64"])
@pytest.mark.parametrize("op", ["log_softmax", "logsumexp"])
def test_many_subnormal_terms(op, dtype, t, kb):
    """Terms exp(t) below the smallest normal whose sum is a normal number still count:
    log_softmax at the max is -log1p(n e^t), not 0 (and logsumexp is m + log1p(n e^t))."""
    import mpmath
    n = 50000
    for n_threads in (1, 2):
        x = np.full((2, n + 1), t, dtype)
        x[:, 0] = 0.0
        x[1, 1] = -np.inf  # an -inf entry beside them changes nothing but the count
        got = run(kb, op, x, n_threads=n_threads)
        for r, count in ((0, n), (1, n - 1)):
            want = float(mpmath.log1p(count * mpmath.exp(float(dtype(t)))))
            assert want >= np.finfo(dtype).smallest_normal
            value = got[r] if op == "logsumexp" else -got[r, 0]
            assert abs(float(value) - want) <= 4 * np.spacing(dtype(want)), (r, value, want)


@pytest.mark.parametrize("kb", KERNEL_BACKENDS)
@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
def test_log_softmax_backward_any_y(dtype, kb):
    """log_softmax_backward on y that are not all log-probabilities of normal size (a
    kernel may take a cheaper exp where every y of a block is in [lo, 0]): entries
    above 0, far below (e^y subnormal or 0), -inf, +inf and NaN, each alone in a
    block of otherwise ordinary values, out of place and in place."""
    n = 7000
    fi = np.finfo(dtype)
    base = -np.abs(np.random.default_rng(5).standard_normal((8, n)) * 4).astype(dtype)
    specials = [dtype(0.5), dtype(30.0), dtype(-90.0), dtype(-120.0), dtype(-720.0),
                dtype(-800.0), -np.inf, np.inf, np.nan, -fi.tiny]
    y = base.copy()
    for r in range(8):
        for k, v in enumerate(specials[r::8]):
            y[r, 100 + 2048 * k + 37 * r] = v          # rows 0-1 get two, in two blocks
    g = np.random.default_rng(6).standard_normal((8, n)).astype(dtype)
    want = reference("log_softmax_backward", y, g)
    with np.errstate(all="ignore"):
        scale = np.abs(g.astype(float)) + np.exp(y.astype(float)) * np.abs(
            g.astype(float)).sum(axis=-1, keepdims=True)
    tol = 16 * float(fi.eps) * (np.log2(n) + 4) * scale
    for n_threads in (1, 2):
        for target in (None, "grad", "y"):
            yi, gi = y.copy(), g.copy()
            out = {None: None, "grad": gi, "y": yi}[target]
            got = run(kb, "log_softmax_backward", yi, gi, n_threads=n_threads, out=out)
            nan = np.isnan(want)
            assert np.array_equal(np.isnan(got), nan), (target, n_threads)
            assert np.array_equal(got[np.isinf(want)], want[np.isinf(want)])
            fin = np.isfinite(want)
            err = np.abs(got[fin].astype(float) - want[fin].astype(float))
            assert (err <= tol[fin]).all(), (target, n_threads, err.max())


@pytest.mark.parametrize("kb", KERNEL_BACKENDS)
@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", [(3, 7, 5), (2, 2048, 33), (1, 3, 40000), (40, 50, 1)])
@pytest.mark.parametrize("op", OPS)
def test_3d_is_the_transposed_rows(op, shape, dtype, kb):
    """(outer, n, inner) reduced over axis 1 (a non-last axis) gives the bits of the
    last-axis kernel on the transposed rows, for 1 and 2 threads, with masks."""
    outer, n, inner = shape
    rows_shape = (outer * inner, n)
    for mask in (False, True):
        x2, g2, m2 = inputs(op, rows_shape, dtype, seed=n + inner, mask=mask)
        want = run(kb, op, x2, g2, m2)

        def cols(a):
            return None if a is None else np.ascontiguousarray(
                a.reshape(outer, inner, n).transpose(0, 2, 1))

        for n_threads in (1, 2):
            out = np.empty((outer, inner) if op == "logsumexp" else shape, dtype)
            kernel(kb, op)(out, cols(x2), cols(g2), cols(m2), n_threads)
            got = out.reshape(-1) if op == "logsumexp" else \
                out.transpose(0, 2, 1).reshape(rows_shape)
            assert np.array_equal(got, want, equal_nan=True), (mask, n_threads)
