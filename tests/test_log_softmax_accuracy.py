"""log_softmax and logsumexp within 4 ULP of mpmath where the row's sum is small.

Near the maximum log_softmax is about ``-s`` (``s`` the sum of the other exps),
so every relative error of ``s`` shows in full.  Rounding ``x - max`` costs
``|x - max| u`` relative in each exp (16 u at a distance of 16-32): the kernels
and the reference carry ``x - max`` exactly into the exp.  The cases: the
(33, 2048) array of N(0, 25) logits reduced along axis 0 that showed 6 ULP,
and a search over rows with one dominant logit, distances, offsets, shapes and
axes.
"""
import numpy as np
import pytest

import fastact
from tests._arrays import cast
from tests._oracle import ulp_error

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, strategies as st  # noqa: E402

FLOATS = [np.float32, np.float64]
BAR = 4.0


def assert_within_bar(op, got, x_rows, oracle, dtype, what):
    """``got`` (rows along the last axis, like ``x_rows``) within 4 ULP of mpmath."""
    true = oracle.rows(op, np.ascontiguousarray(x_rows))
    err = ulp_error(got, cast(true, dtype), dtype)
    tiny = float(np.finfo(dtype).smallest_normal)
    bad = np.where(np.abs(true) < tiny, np.abs(got.astype(float) - true) >= tiny, err > BAR)
    if bad.any():
        i = np.unravel_index(np.argmax(np.where(bad, err, -1)), bad.shape)
        pytest.fail(f"{op} {what} {np.dtype(dtype).name}: {bad.sum()} of {bad.size} beyond "
                    f"{BAR} ULP; worst at {i}: got {got[i]!r}, mpmath {true[i]!r} ({err[i]:.2f} ULP)")


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
def test_axis0_of_normal_logits(dtype, backend, oracle):
    # seed 0 gave 6.4 ULP at [14, 628] when x - max was rounded before the exp
    x = np.random.default_rng(0).normal(0, 5, (33, 2048)).astype(dtype)
    got = fastact.log_softmax(x, axis=0, backend=backend)
    assert_within_bar("log_softmax", got.T, x.T, oracle, dtype, "axis 0 of (33, 2048)")


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
def test_one_dominant_logit(dtype, backend, oracle):
    # x - max is about -20, inexact: rounded before the exp it costs up to 8 ULP at the max
    x = np.array([[16.085824243127107, -4.214175956872893, -30.1],
                  [-3.7, 17.3, -2.9]]).astype(dtype)
    got = fastact.log_softmax(x, backend=backend)
    assert_within_bar("log_softmax", got, x, oracle, dtype, "one dominant logit")


@st.composite
def dominated_rows(draw):
    """(x, axis): rows of one dominant logit ``m`` near 0 and others 10-40 below it
    (plus far ones), reduced along axis 0 or the last: the row sum is small and x - m,
    often of another sign than m, is inexact."""
    dtype = draw(st.sampled_from(FLOATS))
    rows = draw(st.integers(1, 4))
    near = draw(st.integers(1, 3))
    far = draw(st.integers(0, 40))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    m = rng.uniform(-30, 30, (rows, 1))
    gaps = np.concatenate([rng.uniform(10, 40, (rows, near)),
                           rng.uniform(40, 80, (rows, far))], axis=1)
    x = np.concatenate([m, m - gaps], axis=1)
    x = rng.permuted(x, axis=1).astype(dtype)
    axis = draw(st.sampled_from([0, -1]))
    return (np.ascontiguousarray(x.T) if axis == 0 else x), axis


@given(case=dominated_rows())
def test_dominated_rows_search(case, backend, oracle):
    x, axis = case
    rows = x.T if axis == 0 else x
    for op in ("log_softmax", "logsumexp"):
        got = getattr(fastact, op)(x, axis=axis, backend=backend)
        if op == "logsumexp":
            # lse near m: 4 ULP plus its conditioning 2 eps max|x| (as tests/test_softmax.py)
            true = oracle.rows(op, np.ascontiguousarray(rows))
            eps = float(np.finfo(x.dtype).eps)
            slack = 4 * np.spacing(np.abs(true).astype(x.dtype)).astype(float)
            slack += 2 * eps * float(np.abs(x).max())
            assert (np.abs(got.astype(float) - true) <= slack).all(), (got, true)
        else:
            assert_within_bar(op, got.T if axis == 0 else got, rows, oracle, x.dtype,
                              f"axis {axis} of {x.shape}")


@given(shape=st.tuples(st.integers(1, 6), st.integers(1, 300)),
       scale=st.sampled_from([0.01, 1.0, 5.0, 25.0, 300.0]),
       axis=st.sampled_from([0, -1]), dtype=st.sampled_from(FLOATS),
       seed=st.integers(0, 2**32 - 1))
def test_shapes_and_scales_search(shape, scale, axis, dtype, seed, backend, oracle):
    x = (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)
    x = np.ascontiguousarray(x.T) if axis == 0 else x  # rows along `axis`, strided when 0
    got = fastact.log_softmax(x, axis=axis, backend=backend)
    rows, got_rows = (x.T, got.T) if axis == 0 else (x, got)
    assert_within_bar("log_softmax", got_rows, rows, oracle, dtype,
                      f"N(0, {scale}^2) axis {axis} of {x.shape}")
