"""Array types other than ``numpy.ndarray``: the rule of the public functions.

An input whose type is not ``numpy.ndarray`` but defines ``__array_ufunc__``
(dask and xarray arrays, masked arrays and other ndarray subclasses, pint
quantities, ...) is computed by the matching ufunc of ``fastact.ufuncs`` with
the same parameters, so it keeps its type: a dask array stays lazy (one task per
chunk), a DataArray keeps its dims, coords and attrs, a masked array its mask.
The result dtype follows the public functions' rule (float16 and bfloat16 are
computed in float32 and returned in their own type, bool and integers give
float64).  Plain ndarrays, lists and scalars never come here.

The softmax family works along an axis, which a chunked or masked container
cannot hand to a NumPy kernel as is: dask arrays are computed by a dask reduction
(``_dask``, imported only then), other such inputs raise a ``TypeError``.
"""
from __future__ import annotations

import sys

import numpy as np

_ndarray = np.ndarray
_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)


def is_foreign(a) -> bool:
    """True for an object computed through the ufuncs (see the module docstring)."""
    return type(a) is not _ndarray and getattr(type(a), "__array_ufunc__", None) is not None


def narrow_dtype(dt):
    """True for the 2-byte floats computed in float32: float16 and bfloat16 (ml_dtypes)."""
    return dt.itemsize == 2 and (dt.kind == "f" or dt.name == "bfloat16")


def _compute_dtype(dt):
    """The loop dtype for an input of dtype ``dt`` (None: let NumPy choose)."""
    if dt is None:
        return None
    if narrow_dtype(dt):
        return _F32
    if dt.kind in "biu":
        return _F64
    return None


def elementwise(ufunc, params, x, grad, out):
    """``ufunc([grad,] x, *params)`` with the public functions' dtype rule."""
    operands = ([grad] if grad is not None else []) + [x]
    dtypes = [getattr(a, "dtype", None) for a in operands]
    dtypes = [d if isinstance(d, np.dtype) else None for d in dtypes]
    compute = [_compute_dtype(d) for d in dtypes]
    kwargs = {}
    if any(c is not None for c in compute):
        kwargs["dtype"] = np.result_type(*[c or d or _F64 for c, d in zip(compute, dtypes)])
    if out is not None:
        kwargs["out"] = out
    result = ufunc(*operands, *params, **kwargs)
    narrow = [d for d in dtypes if d is not None and narrow_dtype(d)]
    if out is None and narrow and len(narrow) == len(operands) and len(set(narrow)) == 1:
        result = result.astype(narrow[0])
    return result


def any_dask_array(*arrays) -> bool:
    """True when an argument is a ``dask.array.Array`` (never imports dask: without
    ``dask.array`` imported there is none)."""
    module = sys.modules.get("dask.array")
    cls = getattr(module, "Array", None)
    return cls is not None and any(isinstance(a, cls) for a in arrays)


def rowwise_dask(op, x, grad, along, out, backend):
    """A softmax-family operation with dask input, by a dask reduction (``_dask``)."""
    from . import _dask

    return _dask.rowwise(op, x, grad, along, out, backend)


def reject_rowwise(op_name, *arrays):
    """Raise a TypeError for a softmax-family input that is not an ndarray or plain
    ndarray subclass (dask, xarray, masked arrays, ...)."""
    for a in arrays:
        if a is None or not is_foreign(a):
            continue
        if isinstance(a, _ndarray) and not isinstance(a, np.ma.MaskedArray):
            continue  # a plain subclass (memmap, matrix): computed as an ndarray
        kind = type(a).__module__.split(".")[0] + "." + type(a).__name__
        hint = (" (use where= for a mask)" if isinstance(a, np.ma.MaskedArray) else
                " (pass its NumPy or dask array, e.g. DataArray.data)")
        raise TypeError(f"fastact.{op_name}() takes NumPy arrays, not {kind}{hint}")
