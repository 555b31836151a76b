"""The softmax family for every backend.

* against mpmath (50 digits) on rows of length 1, 2, 7, 2048 and 50257:
  log_softmax <= 4 ULP; softmax/softmin <= (4 + log2(n) + |log p|) ULP (the
  |log p| term is the conditioning of exp(x_i - m): rounding x_i - m by half an
  ULP moves p_i by |x_i - m| eps relatively, for every implementation);
  logsumexp <= 4 ULP + 2 eps max|x| (lse is ill-conditioned where it is near 0);
  results below the smallest normal: absolute error < smallest normal;
* against the reference on any axis (None included), 0-d, empty and strided
  input, masks (fully masked rows too), +inf/NaN/-inf rows, 1e8 logits,
  keepdims, out=, float16;
* backward against the closed forms and against finite differences.
"""
import numpy as np
import pytest

import fastact
from fastact._registry import ROW_OPS
from tests._arrays import FORWARD_ROW_OPS, cast
from tests._oracle import ulp_error

FWD = [op.name for op in FORWARD_ROW_OPS]
FLOATS = [np.float32, np.float64]
LENGTHS = [1, 2, 7, 2048, 50257]


def logits(rows, n, dtype, seed=0):
    rng = np.random.default_rng(seed + n)
    scale = np.array([1.0, 8.0, 40.0, 0.01])[np.arange(rows) % 4][:, None]
    return (rng.standard_normal((rows, n)) * scale).astype(dtype)


def rows_for(n):
    return 1 if n > 10000 else 4


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("n", LENGTHS)
@pytest.mark.parametrize("op", FWD)
def test_against_mpmath(op, n, dtype, backend, oracle):
    x = logits(rows_for(n), n, dtype)
    true = oracle.rows(op, x)
    got = getattr(fastact, op)(x, backend=backend)
    assert got.dtype == dtype and got.shape == true.shape
    fi = np.finfo(dtype)
    tiny = float(fi.smallest_normal)
    want = cast(true, dtype)
    err = ulp_error(got, want, dtype)
    bar = allowed_ulps(op, true, n, float(np.abs(x).max()), dtype)
    small = np.abs(true) < tiny
    bad = np.where(small, np.abs(got.astype(float) - true) >= tiny, err > bar)
    if bad.any():
        i = np.unravel_index(np.flatnonzero(bad)[0], bad.shape)
        pytest.fail(f"{op} n={n} {np.dtype(dtype).name} [{backend}]: {bad.sum()} of {bad.size} "
                    f"beyond the bar; first at {i}: got {got[i]!r}, mpmath {true[i]!r} "
                    f"({err[i]:.1f} ULP, bar {bar[i]:.1f})")


# rows whose softmax has subnormal entries (and softmin's: the rows negated)
SUBNORMAL_ROWS = {np.float32: [[0.0, -95.0, -100.0, -103.0], [3.0, 2.0, -94.0, -101.5]],
                  np.float64: [[0.0, -720.0, -740.0, -700.0], [1.0, 1.0, -715.0, -744.0]]}


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("op", ["softmax", "softmin"])
def test_subnormal_results_within_one_ulp(op, dtype, backend):
    """Gradual underflow: entries below the smallest normal within 1 ULP (the subnormal
    spacing) of mpmath, the others within the bar of test_against_mpmath."""
    import mpmath

    from fastact._accuracy.oracle import row_values

    rows = np.array(SUBNORMAL_ROWS[dtype], dtype)
    x = -rows if op == "softmin" else rows
    got = getattr(fastact, op)(x, backend=backend)
    fi = np.finfo(dtype)
    subnormal = float(fi.smallest_subnormal)
    for r, true_row in enumerate(row_values(op, x)):
        for j, true in enumerate(true_row):
            g = float(got[r, j])
            if true < fi.smallest_normal:
                err = float(abs(mpmath.mpf(g) - true) / subnormal)
                assert err <= 1.0, (op, r, j, g, true, err)
            else:
                assert abs(g - float(true)) <= 4 * float(np.spacing(dtype(g))), (op, r, j, g, true)


# ------------------------------------------------------------------ vs the reference
def ref(op, x, axis=-1, where=None, keepdims=False, grad=None):
    """The reference result through the public API's "numpy" backend."""
    fn = getattr(fastact, op)
    if grad is not None:
        return fn(grad, x, axis=axis, backend="numpy")
    if op == "logsumexp":
        return fn(x, axis=axis, keepdims=keepdims, where=where, backend="numpy")
    return fn(x, axis=axis, where=where, backend="numpy")


def allowed_ulps(op, value, n, xmax, dtype):
    """The accuracy bar (in ULP of ``value``) of a forward op, as in the module docstring."""
    v = np.abs(np.asarray(value, float))
    with np.errstate(all="ignore"):
        if op in ("softmax", "softmin"):
            return 4 + np.log2(max(n, 1)) + np.abs(np.log(v))
        if op == "log_softmax":
            return np.full(v.shape, 4.0)
        return 4 + 2 * float(np.finfo(dtype).eps) * xmax / np.spacing(v.astype(dtype)).astype(float)


def close(op, got, want, dtype, n, xmax, factor=2):
    """got within ``factor`` times the bar of want (both sides may be off by a bar: factor 2);
    NaN and +-inf in the same places."""
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape or got.dtype != want.dtype:
        return False
    g, w = got.astype(float), want.astype(float)
    same = (g == w) | (np.isnan(g) & np.isnan(w))
    tiny = float(np.finfo(dtype).smallest_normal)
    with np.errstate(all="ignore"):
        bar = factor * allowed_ulps(op, w, n, xmax, dtype)
        err = np.abs(g - w) / np.spacing(np.abs(want)).astype(float)
        ok = np.isfinite(g) & np.isfinite(w) & ((err <= bar) | (np.abs(g - w) < factor * tiny))
    return bool((same | ok).all())


def backward_close(op, got, want, g, y, dtype, axis=-1):
    """|got - want| <= 16 eps (n + 4) * the magnitude of the terms of the closed form."""
    g, y = np.asarray(g, float), np.asarray(y, float)
    if axis is None:
        g, y, got, want = g.ravel(), y.ravel(), np.ravel(got), np.ravel(want)
        axis = -1
    n = g.shape[axis] if g.ndim else 1
    with np.errstate(all="ignore"):
        if op == "softmax_backward":
            scale = np.abs(y) * (np.abs(g) + np.sum(np.abs(g * y), axis=axis, keepdims=True))
        else:
            scale = np.abs(g) + np.exp(y) * np.sum(np.abs(g), axis=axis, keepdims=True)
    tol = 16 * float(np.finfo(dtype).eps) * (np.log2(max(n, 1)) + 4) * scale
    return bool((np.abs(np.asarray(got, float) - np.asarray(want, float)) <= tol).all())


def _n_and_xmax(x, axis=-1):
    x = np.asarray(x)
    n = x.size if axis is None or x.ndim == 0 else x.shape[axis]
    with np.errstate(all="ignore"):
        fin = np.abs(x[np.isfinite(x)].astype(float))
    return n, float(fin.max()) if fin.size else 0.0


def check(op, x, backend, **kw):
    got = getattr(fastact, op)(x, backend=backend, **kw)
    want = ref(op, x, **kw)
    dt = np.asarray(want).dtype
    n, xmax = _n_and_xmax(x, kw.get("axis", -1))
    assert close(op, got, want, dt, n, xmax), (
        f"{op} {kw} on {np.shape(x)} {np.asarray(x).dtype}:\ngot {got!r}\nwant {want!r}")
    return got


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("op", FWD)
def test_any_axis(op, dtype, backend):
    x = logits(6, 35, dtype).reshape(6, 5, 7)
    for axis in (0, 1, 2, -1, -2, None):
        got = check(op, x, backend, axis=axis)
        if op == "logsumexp":
            for keepdims in (True, False):
                got = check(op, x, backend, axis=axis, keepdims=keepdims)
                want_shape = np.logaddexp.reduce(x.astype(float), axis=axis, keepdims=keepdims).shape
                assert np.shape(got) == want_shape
                assert np.allclose(got, np.logaddexp.reduce(x.astype(float), axis=axis,
                                                            keepdims=keepdims), rtol=1e-5)
        else:
            # the axis really is the one normalised
            ax = axis if axis is not None else None
            s = np.exp(got.astype(float)) if op == "log_softmax" else got.astype(float)
            assert np.allclose(s.sum(axis=ax), 1, atol=1e-5)


@pytest.mark.parametrize("op", FWD)
def test_strided_and_odd_shapes(op, backend):
    x = logits(8, 40, np.float64)
    for label, v in [("[::2, ::-3]", x[::2, ::-3]), ("T", x.T), ("F", np.asfortranarray(x)),
                     ("broadcast", np.broadcast_to(x[0], (3, 40))), ("3-D T",
                      x.reshape(2, 4, 40).transpose(1, 2, 0)), ("float32 [::-1]",
                      x.astype(np.float32)[::-1]), ("int", np.arange(12).reshape(3, 4)),
                     ("bool", np.eye(3, dtype=bool)), ("byte-swapped", x.astype(">f8"))]:
        for axis in (-1, 0, None):
            got = check(op, v, backend, axis=axis)
            contiguous = check(op, np.ascontiguousarray(v), backend, axis=axis)
            assert np.array_equal(got, contiguous, equal_nan=True), (label, axis)


@pytest.mark.parametrize("op", FWD)
def test_zero_d_and_empty(op, backend):
    fn = getattr(fastact, op)
    r = fn(np.float64(2.5), backend=backend)
    assert isinstance(r, np.floating) and not isinstance(r, np.ndarray)
    assert r == {"softmax": 1.0, "softmin": 1.0, "log_softmax": 0.0, "logsumexp": 2.5}[op]
    assert fn(np.array(2.5), axis=None, backend=backend) == r
    for shape, axis in [((0,), -1), ((3, 0), -1), ((3, 0), 0), ((0, 4), -1), ((0, 4), 0),
                        ((0, 4), None), ((2, 0, 3), 1)]:
        x = np.ones(shape)
        got = fn(x, axis=axis, backend=backend)
        want = ref(op, x, axis=axis)
        assert np.shape(got) == np.shape(want) and np.array_equal(got, want), (shape, axis)
        if op == "logsumexp":
            # the sum over an empty axis is 0: logsumexp is -inf
            assert np.all(np.asarray(got) == -np.inf)


@pytest.mark.parametrize("op", FWD)
def test_keepdims_and_out(op, backend):
    x = logits(4, 9, np.float64).reshape(2, 2, 9)
    fn = getattr(fastact, op)
    for axis in (0, 1, 2, None):
        kw = {"axis": axis}
        if op == "logsumexp":
            for keepdims in (False, True):
                want = ref(op, x, axis=axis, keepdims=keepdims)
                out = np.empty(np.shape(want))
                assert fn(x, axis=axis, keepdims=keepdims, out=out, backend=backend) is out
                assert close(op, out, want, np.float64, *_n_and_xmax(x, axis))
            continue
        want = ref(op, x, **kw)
        out = np.empty_like(x)
        assert fn(x, out=out, backend=backend, **kw) is out
        assert close(op, out, want, np.float64, *_n_and_xmax(x, axis))
        xi = x.copy()  # in place
        assert fn(xi, out=xi, backend=backend, **kw) is xi
        assert close(op, xi, want, np.float64, *_n_and_xmax(x, axis))
        outs = np.empty((2, 2, 18))[..., ::2]  # strided out
        fn(x, out=outs, backend=backend, **kw)
        assert close(op, outs, want, np.float64, *_n_and_xmax(x, axis))


@pytest.mark.parametrize("op", FWD)
def test_masks(op, backend):
    rng = np.random.default_rng(5)
    x = logits(6, 11, np.float64)
    masks = {
        "random": rng.random((6, 11)) < 0.6,
        "row-broadcast": np.broadcast_to(rng.random(11) < 0.5, (6, 11)),
        "(1, n)": (rng.random((1, 11)) < 0.5),
        "(rows, 1)": np.array([[True], [False], [True], [True], [False], [True]]),
        "all false": np.zeros((6, 11), bool),
        "all true": np.ones((6, 11), bool),
    }
    for label, m in masks.items():
        m = np.asarray(m)
        got = getattr(fastact, op)(x, where=m, backend=backend)
        want = ref(op, x, where=m)
        assert close(op, got, want, np.float64, 11, np.abs(x).max()), (label, got, want)
        full = np.broadcast_to(m, x.shape)
        dead = ~full.any(axis=-1)
        if op == "logsumexp":
            assert (got[dead] == -np.inf).all()
            alive = ~dead
            with np.errstate(divide="ignore"):
                w = np.log(np.where(full, np.exp(x), 0).sum(axis=-1))
            assert np.allclose(got[alive], w[alive], rtol=1e-12)
            continue
        masked_value = -np.inf if op == "log_softmax" else 0.0
        assert (got[~full] == masked_value).all(), label
        assert not np.isnan(got).any(), f"{label}: a fully masked row must not give NaN"
        if op != "log_softmax":
            sums = got.sum(axis=-1)
            assert np.allclose(sums[~dead], 1) and (sums[dead] == 0).all()
        # masked entries equal the unmasked softmax of the kept entries only
        for r in range(6):
            keep = full[r]
            if keep.any():
                sub = getattr(fastact, op)(x[r, keep], backend=backend)
                assert close(op, got[r, keep], sub, np.float64, 11, np.abs(x).max())
    # masks on another axis
    m = rng.random((6, 11)) < 0.5
    m[:, 0] = True
    assert close(op, getattr(fastact, op)(x, axis=0, where=m, backend=backend),
                 ref(op, x, axis=0, where=m), np.float64, 6, np.abs(x).max())


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("op", FWD)
def test_special_rows(op, dtype, backend):
    inf, nan = np.inf, np.nan
    x = np.array([
        [1.0, 2.0, 3.0, 4.0],
        [inf, 1.0, 2.0, 3.0],      # +inf: NaN row (logsumexp: +inf)
        [nan, 1.0, 2.0, 3.0],      # NaN: NaN row
        [-inf, 1.0, -inf, 0.0],    # -inf entries are fine
        [-inf, -inf, -inf, -inf],  # all -inf: 0 / -inf / -inf
        [1e8, 0.0, -1e8, 1e8],     # huge logits
        [-1e8, -1e8 + 1, -1e8, -1e8 - 5],
        [inf, inf, 1.0, 0.0],
        [-inf, nan, 0.0, 1.0],
    ], dtype=dtype)
    fn = getattr(fastact, op)
    xin = -x if op == "softmin" else x  # softmin(x) = softmax(-x): same cases, mirrored
    got = fn(xin, backend=backend)
    assert close(op, got, ref(op, xin), dtype, 4, 2e8)
    if op == "logsumexp":
        assert got[1] == inf and np.isnan(got[2]) and got[4] == -inf and got[7] == inf
        assert np.isfinite(got[[0, 3, 5, 6]]).all()
        assert np.isclose(got[5], 1e8 + np.log(2), rtol=1e-7)
        return
    assert np.isnan(got[[1, 2, 7, 8]]).all()
    assert not np.isnan(got[[0, 3, 4, 5, 6]]).any()
    if op == "log_softmax":
        assert (got[4] == -inf).all() and got[3, 0] == -inf and got[3, 2] == -inf
        assert np.allclose(got[5], [-np.log(2), -1e8 - np.log(2), -2e8 - np.log(2), -np.log(2)],
                           rtol=1e-7)
    else:
        assert (got[4] == 0).all() and got[3, 0] == 0 and got[3, 2] == 0
        assert np.allclose(got[5], [0.5, 0, 0, 0.5]) and got[5, 1] == 0 and got[5, 2] == 0
    # the other rows are untouched by the bad ones
    assert close(op, got[0], fn(xin[0], backend=backend), dtype, 4, 4.0)


@pytest.mark.parametrize("op", FWD)
def test_float16(op, backend):
    x = logits(4, 50, np.float16)
    got = getattr(fastact, op)(x, backend=backend)
    assert got.dtype == np.float16
    want = cast(getattr(fastact, op)(x.astype(np.float32), backend=backend), np.float16)
    assert np.allclose(got.astype(float), want.astype(float), rtol=1e-3, atol=1e-4)
    assert close(op, got, ref(op, x), np.float16, 50, float(np.abs(x).max()), factor=1)


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("n", [1, 2, 7, 2048, 50257])
def test_long_rows_match_reference(n, dtype, backend):
    x = logits(rows_for(n) * 2, n, dtype, seed=3)
    for op in FWD:
        check(op, x, backend)


# ------------------------------------------------------------------ backward
def _closed_form(op, g, y):
    g, y = g.astype(float), y.astype(float)
    if op == "softmax_backward":
        return y * (g - (g * y).sum(axis=-1, keepdims=True))
    return g - np.exp(y) * g.sum(axis=-1, keepdims=True)


BACKWARD = [(op.name, op.name.replace("_backward", "")) for op in ROW_OPS if op.backward]


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("n", [1, 2, 7, 2048])
@pytest.mark.parametrize("op, forward", BACKWARD)
def test_backward_closed_form(op, forward, n, dtype, backend):
    x = logits(4, n, dtype)
    y = getattr(fastact, forward)(x, backend=backend)
    g = np.cos(np.arange(x.size) * 0.37).reshape(x.shape).astype(dtype)
    got = getattr(fastact, op)(g, y, backend=backend)
    assert got.dtype == dtype
    want = _closed_form(op, g, y)
    eps = float(np.finfo(dtype).eps)
    scale = np.abs(g).max(axis=-1, keepdims=True) * (1 + np.log2(n))
    assert np.all(np.abs(got - want) <= 8 * eps * scale), np.abs(got - want).max()
    assert backward_close(op, got, ref(op, y, grad=g), g, y, dtype)


@pytest.mark.parametrize("op, forward", BACKWARD)
def test_backward_finite_differences(op, forward, backend):
    """dL/dx for L = sum(g * f(x)) by central differences in float64."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((3, 6)) * 2
    g = rng.standard_normal((3, 6))
    f = getattr(fastact, forward)
    y = f(x, backend=backend)
    got = getattr(fastact, op)(g, y, backend=backend)
    h = 1e-6
    fd = np.empty_like(x)
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        fd[idx] = ((g * f(xp, backend=backend)).sum() - (g * f(xm, backend=backend)).sum()) / (2 * h)
    assert np.allclose(got, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("op, forward", BACKWARD)
def test_backward_axes_and_strides(op, forward, backend):
    x = logits(6, 35, np.float64).reshape(6, 5, 7)
    g = np.sin(np.arange(x.size)).reshape(x.shape)
    for axis in (0, 1, -1, None):
        y = getattr(fastact, forward)(x, axis=axis, backend=backend)
        got = getattr(fastact, op)(g, y, axis=axis, backend=backend)
        assert backward_close(op, got, ref(op, y, axis=axis, grad=g), g, y, np.float64, axis)
        gs, ys = g[:, ::-1], y[:, ::-1]
        got_s = getattr(fastact, op)(gs, ys, axis=axis, backend=backend)
        assert np.array_equal(got_s, getattr(fastact, op)(gs.copy(), ys.copy(), axis=axis,
                                                          backend=backend))
    # 0-d and empty
    r = getattr(fastact, op)(np.float64(2.0), np.float64(1.0 if op == "softmax_backward" else 0.0),
                             backend=backend)
    assert isinstance(r, np.floating) and r == 0.0
    e = getattr(fastact, op)(np.ones((3, 0)), np.ones((3, 0)), backend=backend)
    assert e.shape == (3, 0)
    # out=grad in place
    y = getattr(fastact, forward)(x, backend=backend)
    want = getattr(fastact, op)(g, y, backend=backend)
    gi = g.copy()
    assert getattr(fastact, op)(gi, y, out=gi, backend=backend) is gi
    assert np.array_equal(gi, want)
