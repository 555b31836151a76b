"""Float bits as signed integers: the row max without fast-math, and bit casts.

The max of v over a row is read off two integer reductions of its bits b:
among v >= +0 the largest b is the largest v, among v <= -0 the smallest b is,
so ``max v = float(max b)`` if ``max b >= 0`` else ``float(min b)``
(:func:`max_of_bits`).  A positive NaN beats +inf; a negative NaN never wins.
Integer reductions vectorize where float max reductions need fast-math.
"""
from __future__ import annotations

import numpy as np
from numba import typeof, types
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic
from numba.np.arrayobj import populate_array



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


def _dtype_of(t):
    """The element type of array type t, else t itself."""
    return t.dtype if isinstance(t, types.Array) else t


def constant_by_type(name, value_of):
    """An intrinsic ``name(a)`` giving the constant ``value_of(t)`` (a scalar or tuple,
    None: no match) for the element type t of the Numba type of ``a``: typed and
    lowered in place, no compiled function of its own."""

    def typer(typingctx, a):
        value = value_of(_dtype_of(a))
        if value is None:
            return None

        def codegen(context, builder, sig, args):
            return context.get_constant_generic(builder, sig.return_type, value)

        return typeof(value)(a), codegen

    typer.__name__ = name
    return intrinsic(typer)


# bit_limits(xb): (sign bit, zero, bits of -inf) as signed integers of the type of the
# view xb: the starting values of the max and min reductions
bit_limits = constant_by_type("bit_limits", {
    types.int64: (np.int64(-0x8000000000000000), np.int64(0), np.int64(-0x0010000000000000)),
    types.int32: (np.int32(-0x80000000), np.int32(0), np.int32(-0x00800000))}.get)


@intrinsic
def xor_bits(typingctx, b, flip):
    """b ^ flip in the integer type of b (int32 stays int32: 16 vector lanes)."""
    if b not in _BITS.values() or not isinstance(flip, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        return builder.xor(args[0], context.cast(builder, args[1], flip, b))

    return b(b, flip), codegen


@intrinsic
def max_of_bits(typingctx, hi, lo):
    """The max from the two bit reductions: float(hi) if hi >= 0 else float(lo)
    (float32 for int32 bits, float64 for int64)."""
    floats = {bits: f for f, bits in _BITS.items()}
    if hi not in floats or lo != hi:
        return None

    def codegen(context, builder, sig, args):
        positive = builder.icmp_signed(">=", args[0], context.get_constant(hi, 0))
        chosen = builder.select(positive, args[0], args[1])
        return builder.bitcast(chosen, context.get_value_type(floats[hi]))

    return floats[hi](hi, lo), codegen


# least_like(b): the least integer of the type of the integer array b
least_like = constant_by_type("least_like", {
    types.int32: np.int32(-2 ** 31), types.int64: np.int64(-2 ** 63)}.get)


@intrinsic
def max_step(typingctx, b, hi, lo):
    """The two bit reductions advanced by b: (b if b > hi else hi, b if b < lo else lo)."""
    if b not in _BITS.values() or hi != b or lo != b:
        return None

    def codegen(context, builder, sig, args):
        v, h, l = args
        return context.make_tuple(builder, sig.return_type, [
            builder.select(builder.icmp_signed(">", v, h), v, h),
            builder.select(builder.icmp_signed("<", v, l), v, l)])

    return types.UniTuple(b, 2)(b, hi, lo), codegen


@intrinsic
def smaller(typingctx, a, b):
    """The smaller of two integers, in their common type (Numba's ``min`` compiles a
    function)."""
    if not isinstance(a, types.Integer) or not isinstance(b, types.Integer):
        return None
    t = typingctx.unify_types(types.unliteral(a), types.unliteral(b))
    if not isinstance(t, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        x, y = (context.cast(builder, v, s, t) for v, s in zip(args, sig.args))
        less = builder.icmp_signed("<", x, y) if t.signed else builder.icmp_unsigned("<", x, y)
        return builder.select(less, x, y)

    return t(a, b), codegen
