"""Float bits as signed integers: the row max without fast-math, and bit casts.

The max of v over a row is read off two integer reductions of its bits b:
among v >= +0 the largest b is the largest v, among v <= -0 the smallest b is,
so ``max v = float(max b)`` if ``max b >= 0`` else ``float(min b)``
(:func:`max_of_bits`).  A positive NaN beats +inf; a negative NaN never wins.
Integer reductions vectorize where float max reductions need fast-math.
"""
from __future__ import annotations

import numpy as np
from numba import types
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic, overload
from numba.np.arrayobj import populate_array

from .. import _vmath
from ._kind import LINK_ONLY


def _bitcast(src, dst):
    """An intrinsic reinterpreting the bits of a ``src`` scalar as a ``dst`` scalar."""

    def typer(typingctx, v):
        if v != src:
            return None

        def codegen(context, builder, sig, args):
            return builder.bitcast(args[0], context.get_value_type(dst))

        return dst(src), codegen

    typer.__name__ = f"{src}_as_{dst}"
    return intrinsic(typer)


i32_as_f32 = _bitcast(types.int32, types.float32)
f32_as_i32 = _bitcast(types.float32, types.int32)


_BITS = {types.float32: types.int32, types.float64: types.int64}


@intrinsic
def bits_view(typingctx, a):
    """a (float32/float64 array) viewed as int32/int64: the same data, shape, strides
    and owner (``a.view``'s result, without compiling Numba's general view)."""
    if not isinstance(a, types.Array) or a.dtype not in _BITS:
        return None
    view = a.copy(dtype=_BITS[a.dtype])

    def codegen(context, builder, sig, args):
        src = context.make_array(sig.args[0])(context, builder, args[0])
        dst = context.make_array(sig.return_type)(context, builder)
        populate_array(dst, data=builder.bitcast(src.data, dst.data.type), shape=src.shape,
                       strides=src.strides, itemsize=src.itemsize, meminfo=src.meminfo,
                       parent=src.parent)
        return impl_ret_borrowed(context, builder, sig.return_type, dst._getvalue())

    return view(a), codegen


def bit_limits(xb):
    """(sign bit, zero, bits of -inf) as signed integers of the type of the view xb:
    the starting values of the max and min reductions."""


@overload(bit_limits, inline="never", **LINK_ONLY)
def _bit_limits_impl(xb):
    if xb.dtype == types.int64:
        def impl(xb):
            return np.int64(-0x8000000000000000), np.int64(0), np.int64(-0x0010000000000000)
        return impl
    if xb.dtype == types.int32:
        def impl(xb):
            return np.int32(-0x80000000), np.int32(0), np.int32(-0x00800000)
        return impl
    return None


def xor_bits(b, flip):
    """b ^ flip in the integer type of b (int32 stays int32: 16 vector lanes)."""


@overload(xor_bits, inline="always", **LINK_ONLY)
def _xor_bits_impl(b, flip):
    if b == types.int64:
        return lambda b, flip: np.int64(b ^ flip)
    if b == types.int32:
        return lambda b, flip: np.int32(b ^ flip)
    return None


def max_of_bits(hi, lo):
    """The max from the two bit reductions: float(hi) if hi >= 0 else float(lo)
    (float32 for int32 bits, float64 for int64)."""


@overload(max_of_bits, inline="never", **LINK_ONLY)
def _max_of_bits_impl(hi, lo):
    if hi == types.int64:
        return lambda hi, lo: _vmath.i64_as_f64(hi if hi >= 0 else lo)
    if hi == types.int32:
        return lambda hi, lo: i32_as_f32(hi if hi >= 0 else lo)
    return None


def least_like(b):
    """The least integer of the type of the integer array b."""


@overload(least_like, inline="always", **LINK_ONLY)
def _least_like_impl(b):
    if b.dtype == types.int32:
        return lambda b: np.int32(-2 ** 31)
    return lambda b: np.int64(-2 ** 63)
