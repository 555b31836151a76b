"""Evaluating every fastact backend and every peer on the grid and scoring it against mpmath.

A :class:`Target` is one bench case (:mod:`fastact._bench.cases`) at one dtype:
an elementwise forward pass ``f(x)``, an elementwise backward pass from ``x``
run with ``grad = 1`` (which is ``f'(x)``: the peers' derivatives are the
kernels their autograd uses, or ``jax.vjp``), or a softmax-family op along the
rows of :func:`fastact._accuracy.grid.rows`.  Backward passes from the output
and the softmax family's backward passes are not measured.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import grid, oracle, ulp

BOUND_ULP = 4  # the "points above N ULP" column; fastact's forward promise for smooth functions
DERIV_REL_EPS, DERIV_ABS_EPS = 16, 4  # fastact's derivative promise: 16 eps |f'| + 4 eps


@dataclass(frozen=True)
class Target:
    """One bench case at one dtype."""

    case: object  # fastact._bench.cases.Case
    dtype: str

    @property
    def derivative(self) -> bool:
        return self.case.mode == "backward"

    @property
    def label(self) -> str:
        """``gelu_tanh`` for f, ``gelu_tanh'`` for f'."""
        return self.case.op + ("'" if self.derivative else "")


def targets(functions=(), dtypes=("float32", "float64")) -> list:
    """Every measured target among the bench cases ``functions`` selects, per dtype."""
    from .._bench import cases

    chosen = [c for c in cases.select(functions)
              if (c.kind == "elementwise" and c.mode in ("forward", "backward"))
              or (c.kind == "rowwise" and c.op in oracle.ROW_OPS)]
    return [Target(c, d) for d in dtypes for c in chosen]


def buffers(target: Target, size: grid.GridSize):
    """The grid (or rows) as the case's buffers, ``grad = 1``, and the x of every point."""
    from .._bench.cases import Buffers
    from .._registry import kernel_params_for

    case, dtype = target.case, np.dtype(target.dtype)
    if case.kind == "rowwise":
        x = grid.rows(dtype, size)
        where = x.max(axis=-1) if case.reduces else x  # a reduced row is placed at its max
    else:
        x = grid.points(dtype, kernel_params_for(case.op), size)
        where = x
    out = np.empty(case.out_shape(x.size) if case.kind != "rowwise" else where.shape, dtype)
    params = {k: v if isinstance(v, str) else dtype.type(v).item() for k, v in case.kwargs.items()}
    bufs = Buffers(x=x, grad=np.ones_like(x), y=None, out=out, params=params)
    return bufs, np.asarray(where, np.float64)


def reference(target: Target, bufs) -> tuple:
    """(hi, lo) of the exact result for the target's inputs."""
    if target.case.kind == "rowwise":
        return oracle.rowwise(target.case.op, bufs.x)
    return oracle.elementwise(target.case.op, target.derivative, bufs.x)


def implementations(target: Target, backends, libraries) -> list:
    """``(label, kind, note, make)`` for every backend and every installed peer of the target;
    ``make(bufs)`` returns a zero-argument callable computing the result."""
    case = target.case
    impls = [(b, "backend", "", lambda bufs, b=b: case.fastact_call(b, bufs, allocate=True))
             for b in backends]
    impls += [(p.library, "peer", p.note, lambda bufs, p=p: p.make(bufs, True)[0])
              for p in case.peers if p.library in libraries]
    return impls


def evaluate(make, bufs) -> np.ndarray:
    """The implementation's result as a NumPy array (floating-point warnings silenced:
    overflow and NaN are what the grid probes)."""
    import warnings

    from .._bench.run import _as_array

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.asarray(_as_array(make(bufs)(), bufs))


def score(target: Target, got, ref, where) -> tuple:
    """The summary of one implementation's result, and its per-point ULP errors.

    ``max_ulp`` is over every point where the result and the true value are finite,
    ``max_ulp_normal`` over those whose true value is a normal number.
    """
    hi, lo = ref
    dtype = np.dtype(target.dtype)
    got = np.asarray(got, np.float64).reshape(hi.shape)
    err = ulp.ulp_errors(got, hi, lo, dtype)
    normal = np.abs(hi) >= float(np.finfo(dtype).smallest_normal)
    summary = {"points": int(err.size), "max_ulp": None, "x_at_max": None,
               "max_ulp_normal": _max(err, normal)[0],
               "above_bound": float(np.mean(err > BOUND_ULP))}
    summary["max_ulp"], i = _max(err, np.isfinite(err))
    if summary["max_ulp"]:
        summary["x_at_max"] = float(where.flat[i])
        if target.case.kind == "rowwise":
            summary["row_at_max"] = int(np.unravel_index(i, err.shape)[0])
    summary["specials"] = {
        kind: {"count": int(mask.sum()), "x": float(where.flat[int(np.argmax(mask))])}
        for kind, mask in ulp.special_disagreements(got, hi, lo, dtype).items() if mask.any()}
    return summary, err


def _max(err, mask) -> tuple:
    """(largest finite error where ``mask``, or None; its flat index)."""
    mask = mask & np.isfinite(err)
    if not mask.any():
        return None, 0
    i = int(np.argmax(np.where(mask, err, -1.0)))
    return float(err.flat[i]), i


def within_promise(target: Target, got, ref) -> object:
    """Whether a fastact result keeps its documented accuracy (None where none is stated).

    Forward: exact for piecewise-linear functions; for smooth ones <= 4 ULP where
    the true value is a normal number, absolute error below the smallest normal
    elsewhere.  Derivative: ``|got - f'| <= 16 eps |f'| + 4 eps``.
    """
    if target.case.kind == "rowwise":
        return None
    from .._registry import kernel_spec

    hi, lo = ref
    dtype = np.dtype(target.dtype)
    g = np.asarray(got, np.float64)
    same = (g == hi) | (np.isnan(g) & np.isnan(hi))
    with np.errstate(all="ignore"):
        if target.derivative:
            eps = float(np.finfo(dtype).eps)
            ok = np.abs(g - hi) <= DERIV_REL_EPS * eps * np.abs(hi) + DERIV_ABS_EPS * eps
        elif not kernel_spec(target.case.op).smooth:
            ok = g == ulp.round_to(hi, lo, dtype)
        else:
            tiny = float(np.finfo(dtype).smallest_normal)
            normal = np.abs(hi) >= tiny
            ok = np.where(normal, ulp.ulp_errors(g, hi, lo, dtype) <= BOUND_ULP,
                          np.abs(g - hi) < tiny)
    return bool(np.all(same | ok))
