"""The high-precision oracle (mpmath at 50 digits) and the accuracy bars.

For an activation case and a dtype, :meth:`Oracle.table` evaluates the
registry's ``oracle`` / ``oracle_derivative`` at every point of the accuracy
grid (``_arrays.value_grid``) and caches the result per (kernel, params, dtype)
for the whole session.  Parameters are rounded to the dtype first, because
kernels cast their parameters to the array dtype (as PyTorch does).

+-inf inputs are evaluated at +-2**1100 (beyond every float's range), which gives
the mathematical limits, signs included; NaN inputs expect NaN.

Accuracy bars:
* piecewise-linear forward: exact (the correctly rounded value);
* smooth forward: <= 4 ULP where the true value is a normal number, absolute
  error < the smallest normal otherwise;
* derivative / backward: |got - true| <= |grad| * (16 eps |f'| + 4 eps).
"""
from __future__ import annotations

import math

import mpmath
import numpy as np

from fastact._accuracy.oracle import row_values
from fastact._registry import lookup
from tests._arrays import grads_like, value_grid

DPS = 50
MP = mpmath.mp
HUGE = mpmath.mpf(2) ** 1100

FORWARD_ULP = 4
DERIV_REL_EPS = 16
DERIV_ABS_EPS = 4


def to_mp(x: float):
    if math.isinf(x):
        return HUGE if x > 0 else -HUGE
    return MP.mpf(x)


def round_params(case, dtype) -> dict:
    """The case's parameters as the kernel sees them: numbers rounded to ``dtype``."""
    out = {}
    for k, v in case.params:
        out[k] = v if isinstance(v, str) else float(np.asarray(v, dtype))
    return out


def _mp_to_float(v) -> float:
    if not isinstance(v, MP.mpf):
        v = MP.mpf(v)
    return float(v)


class Oracle:
    """Session-wide cache of mpmath values (one instance per test session)."""

    def __init__(self):
        self._tables: dict = {}
        self._rows: dict = {}

    def table(self, case, dtype) -> dict:
        """{x, f (rounded to dtype, as float64), d (f' as float64), grad} on the grid."""
        dtype = np.dtype(dtype)
        key = (case.kernel_id, case.numeric, dtype.name)
        t = self._tables.get(key)
        if t is None:
            t = self._tables[key] = self._build(case, dtype)
        return t

    def _build(self, case, dtype) -> dict:
        x = value_grid(case, dtype)
        params = round_params(case, dtype)
        f = np.empty(x.size)
        d = np.empty(x.size)
        with mpmath.workdps(DPS):
            for i, xi in enumerate(x.tolist()):
                if math.isnan(xi):
                    f[i] = d[i] = np.nan
                    continue
                xm = to_mp(xi)
                f[i] = _mp_to_float(case.entry.oracle(MP, xm, **params))
                d[i] = _mp_to_float(case.entry.oracle_derivative(MP, xm, **params))
        with np.errstate(over="ignore"):
            f_dtype = f.astype(dtype)  # correctly rounded (the float64 step is exact enough)
        return {"x": x, "f": f_dtype, "f64": f, "d": d, "grad": grads_like(x, dtype)}

    def points(self, name, kwargs: dict, x: np.ndarray, mode: str) -> np.ndarray:
        """The registry oracle of ``name`` (mode "forward" or "derivative") at the
        points x as float64 pairs, shape (2, n): hi (rounded) and lo = exact - hi
        (parameters: the defaults, updated by kwargs, whose values must be exact in
        x's dtype)."""
        key = (name, tuple(sorted(kwargs.items())), mode, x.dtype.name, x.tobytes())
        v = self._tables.get(key)
        if v is None:
            spec = lookup(name)
            fn = spec.oracle if mode == "forward" else spec.oracle_derivative
            params = {p.name: p.default for p in spec.params} | kwargs
            with mpmath.workdps(DPS):
                exact = [MP.mpf(fn(MP, to_mp(xi), **params)) for xi in x.tolist()]
                hi = [_mp_to_float(e) for e in exact]
                lo = [_mp_to_float(e - h) if math.isfinite(h) else 0.0 for e, h in zip(exact, hi)]
                v = np.array([hi, lo])
            self._tables[key] = v
        return v

    # ---------------------------------------------------------------- softmax
    def rows(self, op, x2d: np.ndarray, where=None) -> np.ndarray:
        """The softmax-family op along the last axis of a 2-D float array, in mpmath."""
        key = (op, x2d.dtype.name, x2d.shape, x2d.tobytes(),
               None if where is None else where.tobytes())
        r = self._rows.get(key)
        if r is None:
            r = self._rows[key] = mp_rowwise(op, x2d, where)
        return r


def mp_rowwise(op, x2d, where=None) -> np.ndarray:
    """softmax / log_softmax / softmin / logsumexp of each finite row, in mpmath (float64 out)."""
    values = row_values(op, x2d, where)
    out = np.array([[float(v) for v in row] for row in values])
    return out[:, 0] if op == "logsumexp" else out


# -------------------------------------------------------------------- measuring
def ulp_error(got, expected, dtype) -> np.ndarray:
    """|got - expected| in units of the spacing of ``expected`` in ``dtype`` (float64 out).

    Equal values (inf == inf included) and NaN at NaN give 0; a NaN or inf
    mismatch gives inf.
    """
    dtype = np.dtype(dtype)
    g = np.asarray(got, np.float64)
    e = np.asarray(expected, np.float64)
    with np.errstate(all="ignore"):
        spacing = np.spacing(np.abs(np.asarray(expected, dtype))).astype(np.float64)
        err = np.abs(g - e) / spacing
    same = (g == e) | (np.isnan(g) & np.isnan(e))
    err = np.where(same, 0.0, err)
    return np.where(np.isnan(err), np.inf, err)


def forward_bad(got, expected, dtype, exact: bool, ulps=FORWARD_ULP) -> np.ndarray:
    """Mask of points violating the forward bar (expected: correctly rounded, in float64)."""
    dtype = np.dtype(dtype)
    g = np.asarray(got, np.float64)
    e = np.asarray(expected, np.float64)
    same = (g == e) | (np.isnan(g) & np.isnan(e))
    if exact:
        return ~same
    tiny = float(np.finfo(dtype).smallest_normal)
    with np.errstate(all="ignore"):
        normal = np.abs(e) >= tiny
        ok_normal = ulp_error(g, e, dtype) <= ulps
        ok_small = np.abs(g - e) < tiny
    ok = np.where(normal | ~np.isfinite(e), ok_normal, ok_small)
    return ~(same | ok)


def derivative_bad(got, true, dtype, grad=None) -> np.ndarray:
    """Mask of points violating |got - true| <= |grad| (16 eps |f'| + 4 eps)."""
    eps = float(np.finfo(dtype).eps)
    g = np.asarray(got, np.float64)
    t = np.asarray(true, np.float64)
    scale = 1.0 if grad is None else np.abs(np.asarray(grad, np.float64))
    with np.errstate(all="ignore"):
        fprime = t / scale if grad is not None else t
        tol = scale * (DERIV_REL_EPS * eps * np.abs(fprime) + DERIV_ABS_EPS * eps)
        ok = np.abs(g - t) <= tol
    same = (g == t) | (np.isnan(g) & np.isnan(t))
    return ~(same | ok)


def exact_ulp_bad(got, exact, dtype, ulps) -> np.ndarray:
    """Mask of points more than ``ulps`` ULP from the exact value (a (hi, lo) pair from
    :meth:`Oracle.points`; ULP: the spacing of floats of ``dtype`` at the exact value,
    as ``fastact accuracy`` measures) where it is normal, else off by the smallest
    normal or more."""
    hi, lo = exact
    g = np.asarray(got, np.float64)
    tiny = float(np.finfo(dtype).smallest_normal)
    with np.errstate(all="ignore"):
        err = np.abs((g - hi) - lo)
        spacing = np.spacing(np.abs(hi.astype(dtype))).astype(np.float64)
        ok = np.where(np.abs(hi) >= tiny, err <= ulps * spacing, err < tiny)
    return ~(ok | (g == hi) | (np.isnan(g) & np.isnan(hi)))


def describe(x, got, expected, bad, limit=6) -> str:
    """A readable list of the first failing points (and how many failed)."""
    idx = np.flatnonzero(bad)
    lines = [f"{idx.size} of {np.size(bad)} points fail; first ones (x: got vs expected):"]
    for i in idx[:limit]:
        lines.append(f"  x={np.asarray(x).flat[i]!r}: {np.asarray(got).flat[i]!r} vs "
                     f"{np.asarray(expected).flat[i]!r}")
    return "\n".join(lines)
