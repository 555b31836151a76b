"""Every backend agrees with the NumPy reference on awkward arrays.

The expectation is computed directly by the reference formulas
(``_reference.evaluate``) on a contiguous native copy of the input in the
compute dtype, so this also checks, for every backend including "numpy", that
the dispatch handles dtypes, byte order, strides, broadcast views and odd
shapes.  Piecewise-linear activations must agree exactly; smooth ones within
twice the accuracy bars (both sides are within the bars of the truth); NaN,
+-inf must be in the same places in every case.
"""
import numpy as np
import pytest

import fastact
from fastact import _reference
from tests._arrays import CASES, awkward_arrays, case_modes, grads_like

EXACT_MODES_TOL = 0


def _compute_dtype(a):
    dt = a.dtype
    if dt.kind == "f" and dt.itemsize == 2:
        return np.dtype(np.float32), np.dtype(np.float16)
    if dt.kind == "f":
        return dt.newbyteorder("="), dt.newbyteorder("=")
    return np.dtype(np.float64), np.dtype(np.float64)


def expected(case, mode, x, grad):
    """What the reference formulas give on a contiguous native copy (result dtype)."""
    cdt, rdt = _compute_dtype(x)
    xc = np.array(x, dtype=cdt, order="C")  # keeps 0-d (ascontiguousarray would not)
    with np.errstate(all="ignore"):
        if mode == "forward":
            r = _reference.evaluate(case.kernel_id, "forward", xc, case.numeric)
        elif mode == "derivative":
            r = _reference.evaluate(case.kernel_id, "derivative", xc, case.numeric)
        elif mode == "backward":
            r = grad.astype(cdt) * _reference.evaluate(case.kernel_id, "derivative", xc, case.numeric)
        else:
            r = grad.astype(cdt) * _reference.evaluate(case.kernel_id, "derivative_y", xc,
                                                       case.numeric)
        return r.astype(rdt)


def call(case, mode, x, grad, backend):
    if mode == "forward":
        return fastact.get(case.name, **case.kwargs)(x, backend=backend)
    if mode == "derivative":
        return fastact.derivative(case.name, x, backend=backend, **case.kwargs)
    if mode == "backward":
        return fastact.backward(case.name, grad, x, backend=backend, **case.kwargs)
    return fastact.backward(case.name, grad, y=x, backend=backend, **case.kwargs)


def mismatch(got, want, smooth, mode):
    """Mask of disagreeing elements (float64 comparison in the result dtype's terms)."""
    dt = want.dtype
    g = np.asarray(got, np.float64)
    w = np.asarray(want, np.float64)
    same = (g == w) | (np.isnan(g) & np.isnan(w))
    if not smooth and mode in ("forward",):
        return ~same
    fi = np.finfo(dt)
    eps, tiny = float(fi.eps), float(fi.smallest_normal)
    with np.errstate(all="ignore"):
        if mode == "forward":
            # both within 4 ULP of the truth (float16: 1 ULP after rounding a float32 result)
            ulps = 2 if dt == np.float16 else 8
            tol = np.maximum(ulps * np.spacing(np.abs(want)).astype(np.float64), 2 * tiny)
        else:
            tol = 32 * eps * np.abs(w) + 8 * eps * np.maximum(1.0, np.abs(w))
        ok = np.isfinite(w) & np.isfinite(g) & (np.abs(g - w) <= tol)
    return ~(same | ok)


def _cases_and_modes():
    for case in CASES:
        for mode in case_modes(case):
            yield pytest.param(case, mode, id=f"{case.id}-{mode}")


@pytest.mark.parametrize("case, mode", list(_cases_and_modes()))
def test_backend_matches_reference(case, mode, backend):
    failures = []
    for aw in awkward_arrays(case):
        x = aw.array
        before = x.copy()
        grad = None
        if mode.startswith("backward"):
            grad = grads_like(x, np.float32 if x.dtype == np.float16 else np.float64).astype(
                x.dtype if x.dtype.kind == "f" else np.float64)
            grad = np.broadcast_to(grad, x.shape) if x.ndim else grad
        want = expected(case, mode, x, grad)
        got = np.asarray(call(case, mode, x, grad, backend))
        if got.dtype != want.dtype or got.shape != want.shape:
            failures.append(f"{aw.label}: got {got.dtype}{got.shape}, want {want.dtype}{want.shape}")
            continue
        bad = mismatch(got, want, case.smooth, mode)
        if bad.any():
            i = np.flatnonzero(bad)[0]
            xs = np.broadcast_to(x, want.shape).ravel()
            failures.append(f"{aw.label}: {bad.sum()} of {bad.size} differ, first at x={xs[i]!r}: "
                            f"{got.ravel()[i]!r} vs reference {want.ravel()[i]!r}")
        if not np.array_equal(x, before, equal_nan=True):
            failures.append(f"{aw.label}: the input was modified")
    assert not failures, f"{case} {mode} [{backend}]:\n  " + "\n  ".join(failures[:12])
