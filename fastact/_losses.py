"""Losses on logits with their gradients: softmax cross-entropy and BCE-with-logits.

PyTorch's semantics (``F.cross_entropy``, ``F.binary_cross_entropy_with_logits``):
the checks, targets, weights and reductions are handled here, once; the backends'
kernels (``get_loss``, contracts in ``fastact._numba.losses``) make the one pass
over the logits that gives every row's (or element's) loss and, with
``return_grad=True``, the gradient with respect to the logits.
"""
from __future__ import annotations

import math
from typing import Any, NamedTuple, Optional

import numpy as np
from numpy.typing import ArrayLike

from . import _backends, _dispatch
from ._constants import LOSS_SUM_BLOCK
from ._typing import Backend, Out

_REDUCTIONS = ("none", "mean", "sum")
_max = np.maximum.reduce  # ndarray.max without its Python layer
_kernels: dict = {}


def _loss_kernel(be, name):
    k = _kernels.get((be, name))
    if k is None:
        k = _kernels[(be, name)] = be.get_loss(name)
    return k


def _check_reduction(reduction, func):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"fastact.{func}(): reduction must be one of {_REDUCTIONS}, "
                         f"got {reduction!r}")


def _reduce(per_item, reduction, denominator, result_dtype, batch_shape, total=None):
    """The loss: per_item (float64) reshaped ('none'), summed, or summed / denominator
    (total: the sum when the kernel gave it)."""
    if reduction == "none":
        return _dispatch._narrow(per_item.reshape(batch_shape), result_dtype)
    if total is None:
        total = float(per_item.sum())
    if reduction == "mean":  # the mean of nothing: 0 / 0 = NaN, as PyTorch
        total = total / denominator if denominator else math.nan
    # float32/float64 results without an array round trip (no float32 overflow here)
    if result_dtype == np.float64 or (result_dtype == np.float32 and not abs(total) > 3e38):
        return result_dtype.type(total)
    return _dispatch._narrow(np.asarray(total), result_dtype)[()]


def _grad_target(out, shape, compute_dtype, result_dtype, func, inputs):
    """(buffer the kernel writes, whether it is out itself): out when it is C-contiguous
    in the compute dtype and overlaps no input or is one exactly (in place)."""
    if out is None:
        return np.empty(shape, compute_dtype), False
    _dispatch.check_out(out, shape, result_dtype, func)
    if _dispatch._direct_target(out, inputs, compute_dtype):
        return out, True
    return np.empty(shape, compute_dtype), False


def _finish_grad(grad, out, direct, result_dtype):
    if out is None:
        return _dispatch._narrow(grad, result_dtype) if grad.dtype != result_dtype else grad
    if not direct:
        with np.errstate(over="ignore"):
            np.copyto(out, grad, casting="unsafe")
    return out


# ---------------------------------------------------------------- cross-entropy
class _Classes(NamedTuple):
    """The logits as (rows, C) rows and what the call needs to undo that."""

    rows: np.ndarray  # (rows, C) C-contiguous in the compute dtype
    original: object  # the caller's logits (an out= overlapping them needs care)
    axis: int
    moved_shape: tuple  # the logits' shape with the class axis moved last
    result_dtype: np.dtype


def _class_rows(logits, axis, func) -> _Classes:
    x, result_dtype = _dispatch.as_float_array(logits, "logits", func)
    x = x.astype(_dispatch._compute_dtype(result_dtype), copy=False)
    if x.ndim == 0:
        raise ValueError(f"fastact.{func}(): logits must have a class axis (got a 0-d array)")
    ax = _dispatch._normalize_axis(axis, x.ndim, func)
    if ax is None:
        raise TypeError(f"fastact.{func}(): axis must be an integer")
    if ax == x.ndim - 1 and x.flags.c_contiguous and x.shape[-1]:  # rows as they are
        return _Classes(x.reshape(-1, x.shape[-1]), logits, ax, x.shape, result_dtype)
    moved = np.moveaxis(x, ax, -1)
    rows = np.ascontiguousarray(moved).reshape(-1, moved.shape[-1])
    return _Classes(rows, logits, ax, moved.shape, result_dtype)


def _class_weight(weight, n_classes, dtype, func):
    """The class weights (C,) C-contiguous in dtype, or None for no weights (all 1)."""
    if weight is None:
        return None
    w, _ = _dispatch.as_float_array(weight, "weight", func)
    if w.shape != (n_classes,):
        raise ValueError(f"fastact.{func}(): weight must have shape ({n_classes},) (one per "
                         f"class), got {w.shape}")
    return np.ascontiguousarray(w, dtype)


def _index_targets(target, cls, ignore_index, func):
    """(targets as int64 rows, -1 where ignored; the number of rows counted, or None)
    after checking shape and range."""
    t = np.asarray(target)
    batch_shape = cls.moved_shape[:-1]
    if t.shape != batch_shape:
        raise ValueError(f"fastact.{func}(): class-index target must have the logits' shape "
                         f"without the class axis, {batch_shape}, got {t.shape}")
    t = np.ascontiguousarray(t.reshape(-1), dtype=np.int64)
    n_classes = cls.rows.shape[1]
    # one reduction checks 0 <= t < C: negative int64 are huge as uint64
    if t.size and t.view(np.uint64).max() < n_classes and not (
            0 <= ignore_index < n_classes and (t == ignore_index).any()):
        return t, t.size  # every row counts (the common case: no mask needed)
    active = t != ignore_index
    bad = active & ((t < 0) | (t >= n_classes))
    if bad.any():
        raise IndexError(f"fastact.{func}(): target {t[np.argmax(bad)]} is out of bounds for "
                         f"{n_classes} classes (ignore_index={ignore_index})")
    return np.where(active, t, -1), None


def _check_smoothing(label_smoothing, func):
    eps = float(label_smoothing)
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"fastact.{func}(): label_smoothing must be in [0, 1], got {eps}")
    return eps


class _Call(NamedTuple):
    """What a cross-entropy call computes, beyond its arrays."""

    eps: float
    reduction: str
    return_grad: bool
    out: object
    backend: object


def cross_entropy(logits: ArrayLike, target: ArrayLike, *, axis: int = -1,
                  weight: Optional[ArrayLike] = None, ignore_index: int = -100,
                  label_smoothing: float = 0.0, reduction: str = "mean",
                  return_grad: bool = False, out: Out = None, backend: Backend = None) -> Any:
    """Softmax cross-entropy of ``logits`` (classes along ``axis``), as PyTorch's
    ``F.cross_entropy``, optionally with its gradient with respect to the logits.

    With class indices ``t`` (an integer array: the logits' shape without ``axis``),
    eps = ``label_smoothing``, C classes, w = ``weight`` (default 1)::

        lse    = log(sum_c exp(x_c))
        loss_r = (1 - eps) w_t (lse - x_t) + (eps / C) sum_c w_c (lse - x_c)
        grad_r = scale ((1 - eps) w_t + (eps / C) sum_c w_c) softmax(x)
                 - scale (eps / C) w - scale (1 - eps) w_t onehot(t)

    Rows whose target is ``ignore_index`` give loss 0 and gradient 0 and are not
    counted.  ``reduction="mean"`` divides the sum by sum_r w_{t_r} over the rows
    counted (scale = 1 / that); when no row counts this is 0/0 = NaN, as in PyTorch
    (whose gradient is then 0, as here).  ``"sum"`` and ``"none"`` have scale 1
    (with ``"none"`` the gradient is that of the sum of the returned losses).

    With class probabilities (a float array shaped like the logits),
    q = (1 - eps) target + eps / C::

        loss_r = sum_c w_c q_c (lse - x_c)
        grad_r = scale (softmax(x) sum_c w_c q_c - w q)

    and ``"mean"`` divides by the number of rows.  A row holding NaN or +inf, or
    only -inf, gives NaN (loss and gradient).

    Parameters
    ----------
    logits : array_like, at least 1-D
    target : array_like
        Class indices (integers) or class probabilities (floats, shaped like logits).
    axis : int, default -1
        The class axis (PyTorch's dim 1 is ``axis=1``).
    weight : array_like of shape (C,), optional
    ignore_index : int, default -100
    label_smoothing : float in [0, 1], default 0
    reduction : {"none", "mean", "sum"}, default "mean"
    return_grad : bool, default False
        Also return the gradient with respect to the logits (shape and dtype of the
        logits), from the same pass over the logits.
    out : ndarray, optional
        Where to write the gradient (only with ``return_grad=True``).
    backend : {"numpy", "numba", "cython", "auto"}, optional

    Returns
    -------
    loss (a NumPy scalar, or an array for ``reduction="none"``), or
    ``(loss, grad)`` with ``return_grad=True``.
    """
    if (weight is None and out is None and not return_grad and label_smoothing == 0.0
            and type(logits) is np.ndarray and type(target) is np.ndarray
            and type(axis) is int and (axis == -1 or axis == logits.ndim - 1)):
        loss = _cross_entropy_plain(logits, target, ignore_index, reduction, backend)
        if loss is not None:
            return loss
    func = "cross_entropy"
    _check_reduction(reduction, func)
    eps = _check_smoothing(label_smoothing, func)
    if out is not None and not return_grad:
        raise TypeError(f"fastact.{func}(): out= is where the gradient goes; pass "
                        "return_grad=True")
    cls = _class_rows(logits, axis, func)
    n_classes = cls.rows.shape[1]
    w = _class_weight(weight, n_classes, cls.rows.dtype, func)
    t = np.asarray(target)
    call = _Call(eps, reduction, return_grad, out, backend)
    if t.dtype.kind in "iu":
        tgt, counted = _index_targets(t, cls, ignore_index, func)
        loss, grad = _cross_entropy_indices(cls, tgt, counted, w, call)
    elif t.dtype.kind == "f":
        loss, grad = _cross_entropy_probs(cls, t, w, call)
    else:
        raise TypeError(f"fastact.{func}(): target must hold class indices (integers) or "
                        f"class probabilities (floats), got dtype {t.dtype}")
    return (loss, grad) if return_grad else loss


def _cross_entropy_plain(x, t, ignore_index, reduction, backend):
    """The loss of the common call, or None when the call is not one: logits C-contiguous
    float32/float64 with classes last, int64 targets all in [0, C) (none ignored), no
    weights or smoothing, the mean or the sum, no gradient.  The general path's kernel
    call and its sum of the row losses (the same bits), with none of its conversions:
    little Python runs between the kernel passes."""
    dt = x.dtype
    if (dt is not _dispatch._F32 and dt is not _dispatch._F64) or not x.ndim \
            or not x.flags.c_contiguous or t.dtype != np.int64 or not t.flags.c_contiguous \
            or t.shape != x.shape[:-1] or reduction == "none" or reduction not in _REDUCTIONS:
        return None
    n_classes = x.shape[-1]
    rows = t.size
    if not (rows and n_classes) or 0 <= ignore_index < n_classes \
            or _max(t.view(np.uint64)) >= n_classes:  # negative int64 are huge as uint64
        return None
    per_row = np.empty(rows, np.float64)
    params = (0.0, 1.0, 1.0 / rows if reduction == "mean" else 1.0, float(n_classes))
    total = _loss_kernel(_backends.resolve(backend), "cross_entropy")(
        x.reshape(rows, n_classes), t.reshape(rows), None, params, per_row, None,
        _backends.num_threads)
    return _reduce(per_row, reduction, rows, dt, None, total)


def _cross_entropy_indices(cls, tgt, counted, w, call):
    """Class-index targets (-1: ignored; counted: how many are not, or None): the
    backend's row kernel does the pass."""
    eps, reduction, return_grad, out, backend = call
    rows, n_classes = cls.rows.shape
    weights = None
    if w is not None:
        active = tgt >= 0
        w_rows = np.zeros(rows, np.float64)  # each row's w_t (ignored rows: 0)
        w_rows[active] = w.astype(np.float64)[tgt[active]]
        denominator = float(np.sum(w_rows[active]))
        weights = (w, w_rows)
        wsum = float(np.sum(w, dtype=np.float64))
    else:
        denominator = float(np.count_nonzero(tgt >= 0) if counted is None else counted)
        wsum = float(n_classes)
    scale = 1.0 / denominator if reduction == "mean" and denominator != 0 else \
        (0.0 if reduction == "mean" else 1.0)
    smooth = eps / n_classes if n_classes else 0.0
    params = (smooth, 1.0 - eps, scale, wsum)
    per_row = (np.empty if n_classes else np.zeros)(rows, np.float64)  # kernels write every row
    inputs = [cls.rows] + ([cls.original] if isinstance(cls.original, np.ndarray) else [])
    grad = direct = None
    if return_grad:
        grad, direct = _class_grad_target(cls, out, inputs)
    total = 0.0
    if rows and n_classes:
        be = _backends.resolve(backend)
        total = _loss_kernel(be, "cross_entropy")(cls.rows, tgt, weights, params, per_row,
                                                  grad, _backends.num_threads)
    loss = _reduce(per_row, reduction, denominator, cls.result_dtype, cls.moved_shape[:-1],
                   total)
    if not return_grad:
        return loss, None
    return loss, _class_grad_finish(cls, grad, out, direct)


def _class_grad_target(cls, out, inputs):
    """The (rows, C) buffer the kernel writes the gradient into; whether it is ``out``."""
    shape = np.moveaxis(np.empty(cls.moved_shape, np.bool_), -1, cls.axis).shape
    if cls.axis != len(shape) - 1:  # the kernel's rows are moved: out is filled after
        if out is not None:
            _dispatch.check_out(out, shape, cls.result_dtype, "cross_entropy")
        return np.empty(cls.rows.shape, cls.rows.dtype), False
    target, direct = _grad_target(out, shape, cls.rows.dtype, cls.result_dtype,
                                  "cross_entropy", inputs)
    return target.reshape(cls.rows.shape), direct


def _class_grad_finish(cls, grad, out, direct):
    g = np.moveaxis(grad.reshape(cls.moved_shape), -1, cls.axis)
    return _finish_grad(g, out, direct, cls.result_dtype)


def _cross_entropy_probs(cls, target, w, call):
    """Probability targets: log_softmax by the backend's row kernel, the rest in NumPy."""
    eps, reduction, return_grad, out, backend = call
    func = "cross_entropy"
    t, _ = _dispatch.as_float_array(target, "target", func)
    t = np.moveaxis(t, cls.axis, -1) if t.ndim == len(cls.moved_shape) else t
    if t.shape != cls.moved_shape:
        shape = np.moveaxis(np.empty(cls.moved_shape, np.bool_), -1, cls.axis).shape
        raise ValueError(f"fastact.{func}(): a probability target must have the logits' "
                         f"shape {shape}, got {np.shape(target)}")
    rows, n_classes = cls.rows.shape
    q = t.reshape(rows, n_classes).astype(np.float64)
    if eps:
        q = q * (1.0 - eps) + eps / n_classes
    wq = q if w is None else q * w.astype(np.float64)
    lsm = _dispatch.rowwise("log_softmax", cls.rows, None, -1, None, backend)
    with np.errstate(all="ignore"):
        per_row = -np.sum(wq * lsm, axis=1)
    loss = _reduce(per_row, reduction, rows, cls.result_dtype, cls.moved_shape[:-1])
    if not return_grad:
        return loss, None
    grad, direct = _class_grad_target(cls, out, [])
    scale = 1.0 / rows if reduction == "mean" and rows else 1.0
    with np.errstate(all="ignore"):
        g = scale * (np.exp(lsm.astype(np.float64)) * np.sum(wq, axis=1, keepdims=True) - wq)
    np.copyto(grad, g, casting="unsafe")
    return loss, _class_grad_finish(cls, grad, out, direct)


# ---------------------------------------------------------------- BCE with logits
def _bce_weights(weight, pos_weight, x, func):
    """None, or (weight, pos_weight) broadcast to x's shape, C-contiguous in x's dtype."""
    if weight is None and pos_weight is None:
        return None
    out = []
    for name, a in (("weight", weight), ("pos_weight", pos_weight)):
        if a is None:
            out.append(np.ones(x.shape, x.dtype))
            continue
        arr, _ = _dispatch.as_float_array(a, name, func)
        try:
            arr = np.broadcast_to(arr, x.shape)
        except ValueError:
            raise ValueError(f"fastact.{func}(): {name} of shape {arr.shape} does not "
                             f"broadcast to the logits' shape {x.shape}") from None
        out.append(np.ascontiguousarray(arr, x.dtype).reshape(-1))
    return tuple(out)


def binary_cross_entropy_with_logits(logits: ArrayLike, target: ArrayLike, *,
                                     weight: Optional[ArrayLike] = None,
                                     pos_weight: Optional[ArrayLike] = None,
                                     reduction: str = "mean", return_grad: bool = False,
                                     out: Out = None, backend: Backend = None) -> Any:
    """Binary cross-entropy on logits, as PyTorch's ``F.binary_cross_entropy_with_logits``,
    optionally with its gradient with respect to the logits.

    With y = ``target`` (same shape as the logits x), w = ``weight`` and
    pw = ``pos_weight`` (both broadcast to x; default 1)::

        loss = w ((1 - y) softplus(x) + pw y softplus(-x))
             = w ((1 - y) x + (1 + (pw - 1) y) log(1 + exp(-x)))
        grad = scale w ((1 - y) sigmoid(x) - pw y sigmoid(-x))

    softplus(x) = max(x, 0) + log1p(exp(-|x|)): stable for logits of any size; a term
    whose factor is 0 is 0, so x = +-inf gives the limit (PyTorch gives NaN there).
    ``reduction="mean"`` divides by the number of elements (scale = 1 / that; the mean
    of nothing is NaN), ``"sum"`` and ``"none"`` have scale 1.  The sums are float64
    over fixed blocks added in order: the bits do not depend on the thread count.

    Returns the loss (a NumPy scalar, or an array for ``"none"``), or ``(loss, grad)``
    with ``return_grad=True``; ``out`` receives the gradient.
    """
    func = "binary_cross_entropy_with_logits"
    _check_reduction(reduction, func)
    if out is not None and not return_grad:
        raise TypeError(f"fastact.{func}(): out= is where the gradient goes; pass "
                        "return_grad=True")
    x, result_dtype = _dispatch.as_float_array(logits, "logits", func)
    y, _ = _dispatch.as_float_array(target, "target", func)
    compute = _dispatch._compute_dtype(result_dtype)
    if y.shape != x.shape:
        raise ValueError(f"fastact.{func}(): target must have the logits' shape {x.shape}, "
                         f"got {y.shape}")
    x = np.ascontiguousarray(x, compute)
    weights = _bce_weights(weight, pos_weight, x, func)
    n = x.size
    scale = 1.0 / n if reduction == "mean" and n else 1.0
    loss_elems = np.empty(x.shape, compute) if reduction == "none" else None
    grad = direct = None
    if return_grad:
        grad, direct = _grad_target(out, x.shape, compute, result_dtype, func,
                                    [x, y] + [a for a in (logits, target)
                                              if isinstance(a, np.ndarray)])
    sums = np.zeros(-(-n // LOSS_SUM_BLOCK), np.float64)
    if n:
        be = _backends.resolve(backend)
        flat = (None if loss_elems is None else loss_elems.reshape(-1), sums,
                None if grad is None else grad.reshape(-1))
        _loss_kernel(be, "binary_cross_entropy_with_logits")(
            x.reshape(-1), np.ascontiguousarray(y, compute).reshape(-1), weights, flat, scale,
            _backends.num_threads)
    if reduction == "none":
        loss = _dispatch._narrow(loss_elems, result_dtype) \
            if loss_elems.dtype != result_dtype else loss_elems
        loss = loss[()] if loss.ndim == 0 else loss
    else:
        loss = _reduce(sums, reduction, n, result_dtype, None)
    if not return_grad:
        return loss
    return loss, _finish_grad(grad, out, direct, result_dtype)
