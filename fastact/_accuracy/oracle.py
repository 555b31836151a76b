"""Exact references at 50 significant digits (mpmath), cached on disk.

Elementwise functions use the registry's own oracles
(``ActivationSpec.oracle`` / ``oracle_derivative``) with the kernel's parameters
rounded to the dtype (kernels compute with the parameters in the array dtype);
the softmax family is computed row by row here (:func:`row_values`), the one
place that knows it in mpmath.  +-inf inputs are evaluated at +-2**1100, beyond
every float's range, which gives the limits; NaN inputs expect NaN.

Each reference is a float64 pair ``(hi, lo)``: ``hi`` the correctly rounded
value, ``lo = value - hi`` (see :mod:`fastact._accuracy.ulp`).  Tables are
cached as ``.npz`` files under :func:`cache_dir`, keyed by the fastact and
mpmath versions, the function, its parameters, the dtype and the grid's bytes.
"""
from __future__ import annotations

import hashlib
import math
import os
import tempfile

import numpy as np

DPS = 50
HUGE_EXPONENT = 1100  # +-inf inputs are evaluated at +-2**1100
ROW_OPS = ("softmax", "log_softmax", "softmin", "logsumexp")


def cache_dir() -> str:
    """``$FASTACT_CACHE_DIR/accuracy``, else ``$XDG_CACHE_HOME/fastact/accuracy``
    (default ``~/.cache/fastact/accuracy``); never inside the source tree."""
    root = os.environ.get("FASTACT_CACHE_DIR")
    if not root:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(xdg, "fastact")
    return os.path.join(root, "accuracy")


def _cache_key(*parts) -> str:
    import mpmath

    import fastact

    text = repr((fastact.__version__, mpmath.__version__, DPS) + parts)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _cached(key: str, compute):
    """``compute()`` -> (hi, lo), read from / written to the disk cache."""
    path = os.path.join(cache_dir(), key + ".npz")
    try:
        with np.load(path) as data:
            return data["hi"], data["lo"]
    except (OSError, KeyError, ValueError):
        pass
    hi, lo = compute()
    try:
        os.makedirs(cache_dir(), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_dir(), suffix=".npz")
        with os.fdopen(fd, "wb") as f:
            np.savez(f, hi=hi, lo=lo)
        os.replace(tmp, path)
    except OSError:  # a read-only cache only costs the recomputation
        pass
    return hi, lo


def split(value) -> tuple:
    """An mpmath number as the float64 pair (correctly rounded value, remainder)."""
    hi = float(value)
    if not math.isfinite(hi):
        return hi, 0.0
    return hi, float(value - hi)


def kernel_params(kernel_id: str, dtype) -> dict:
    """The parameters selecting ``kernel_id``, numbers rounded to ``dtype``."""
    from .._registry import params_for_kernel

    return {k: v if isinstance(v, str) else float(np.asarray(v, dtype))
            for k, v in params_for_kernel(kernel_id).items()}


def elementwise(kernel_id: str, derivative: bool, x: np.ndarray):
    """(hi, lo) of f(x) (or f'(x)) from the registry's oracle, for the grid ``x``."""
    key = _cache_key("elementwise", kernel_id, derivative, x.dtype.name, x.tobytes())
    return _cached(key, lambda: _evaluate(kernel_id, derivative, x))


def _evaluate(kernel_id, derivative, x):
    import mpmath

    from .._registry import kernel_spec

    spec = kernel_spec(kernel_id)
    fn = spec.oracle_derivative if derivative else spec.oracle
    params = kernel_params(kernel_id, x.dtype)
    mp = mpmath.mp
    hi, lo = np.empty(x.size), np.empty(x.size)
    with mpmath.workdps(DPS):
        for i, xi in enumerate(x.tolist()):
            if math.isnan(xi):
                hi[i], lo[i] = math.nan, 0.0
                continue
            xm = mp.ldexp(math.copysign(1, xi), HUGE_EXPONENT) if math.isinf(xi) else mp.mpf(xi)
            hi[i], lo[i] = split(mp.mpf(fn(mp, xm, **params)))
    return hi, lo


def rowwise(op: str, x2d: np.ndarray):
    """(hi, lo) of a softmax-family ``op`` along the last axis of ``x2d``."""
    key = _cache_key("rowwise", op, x2d.dtype.name, x2d.shape, x2d.tobytes())
    return _cached(key, lambda: _rows_split(op, x2d))


def _rows_split(op, x2d):
    values = row_values(op, x2d)
    pairs = np.array([[split(v) for v in row] for row in values])
    hi, lo = pairs[..., 0], pairs[..., 1]
    return (hi[:, 0], lo[:, 0]) if op == "logsumexp" else (hi, lo)


def row_values(op: str, x2d, where=None) -> list:
    """Per row, mpmath values of ``op`` (a one-element list for logsumexp); ``where``
    masks elements out (they get 0 for softmax/softmin, -inf for log_softmax)::

        softmax_i = exp(x_i - m) / S,  log_softmax_i = (x_i - m) - log S,
        logsumexp = m + log S,   S = sum_j exp(x_j - m),  m = max_j x_j,
        softmin(x) = softmax(-x).
    """
    import mpmath

    mp = mpmath.mp
    x2d = -np.asarray(x2d) if op == "softmin" else np.asarray(x2d)
    out = []
    with mpmath.workdps(DPS):
        for r in range(x2d.shape[0]):
            keep = [True] * x2d.shape[1] if where is None else list(where[r])
            z = [mp.mpf(float(v)) for v in x2d[r]]
            m = max(v for v, k in zip(z, keep) if k)
            z = [v - m for v in z]
            e = [mp.exp(v) if k else None for v, k in zip(z, keep)]
            # log S = log1p(S - 1): S - 1 summed without the max's 1, which would
            # swallow a rest below 10^-DPS (log_softmax at the max is then -rest)
            first = next((j for j, (v, k) in enumerate(zip(z, keep)) if k and v == 0), None)
            rest = mp.fsum(v for j, v in enumerate(e) if v is not None and j != first)
            rest = rest if first is not None else rest - 1  # no finite max: NaN anyway
            out.append(_row_op(op, z, e, m, rest))
    return out


def _row_op(op, z, e, m, rest) -> list:
    """``op`` of one row from z = x - m, e = exp(z) (None where masked) and S - 1 = rest."""
    total = 1 + rest
    log_total = rest.context.log1p(rest)
    if op == "logsumexp":
        return [m + log_total]
    if op == "log_softmax":
        return [zj - log_total if ej is not None else -math.inf for zj, ej in zip(z, e)]
    return [ej / total if ej is not None else 0.0 for ej in e]
