"""Squares of SIZE rows of SIZE elements in vector registers (LLVM IR intrinsics).

The float32 short rows as lanes (``_rows.lane_rows``) move and reduce whole squares of
16 rows of 16: the rows (or columns) are loaded as vectors and handled in registers,
with no loop, no overlap check and no remainder.  Offsets are flat element offsets into
an array's data (C order); ``rows`` / ``columns`` strides are literals.  Each square's
results are those of the element loops they replace, bit for bit: the reductions run
in the same order (the column order), the row max is exact in any order.
"""
from __future__ import annotations

from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

from ..._constants import SOFTMAX_SHORT_NARROW

SIZE = SOFTMAX_SHORT_NARROW
_MASK = ir.VectorType(ir.IntType(32), SIZE)


def _vector_pointers(context, builder, arg, value, start, stride, vec):
    """Pointers to the SIZE vectors at start + i stride (i < SIZE) of array value."""
    data = context.make_array(arg)(context, builder, value).data
    start = context.cast(builder, start[1], start[0], types.int64)
    i64 = ir.IntType(64)
    return [builder.bitcast(builder.gep(data, [builder.add(start, ir.Constant(i64, stride * i))]),
                            vec.as_pointer()) for i in range(SIZE)]


def _lane_pointer(context, builder, arg, value, start, vec):
    """The pointer to the vector at element start of array value."""
    data = context.make_array(arg)(context, builder, value).data
    at = context.cast(builder, start[1], start[0], types.int64)
    return builder.bitcast(builder.gep(data, [at]), vec.as_pointer())


def _transposed(builder, v):
    """The SIZE vectors v transposed by two-source shuffles (at step s, element (i, c)
    trades bit s of i with bit s of c)."""
    v = list(v)
    for bit in (1, 2, 4, 8)[:SIZE.bit_length() - 1]:
        low = ir.Constant(_MASK, [p ^ bit | SIZE if p & bit else p for p in range(SIZE)])
        high = ir.Constant(_MASK, [p | SIZE if p & bit else p ^ bit for p in range(SIZE)])
        for a in range(SIZE):
            if not a & bit:
                b = a | bit
                v[a], v[b] = (builder.shuffle_vector(v[a], v[b], mask) for mask in (low, high))
    return v


def _splat(builder, scalar, vec):
    """scalar in every lane of a vector of type vec."""
    undef = ir.Constant(vec, ir.Undefined)
    one = builder.insert_element(undef, scalar, ir.Constant(ir.IntType(32), 0))
    return builder.shuffle_vector(one, undef, ir.Constant(_MASK, [0] * SIZE))


def _c_arrays(*arrays):
    return all(isinstance(a, types.Array) and a.layout == "C" for a in arrays)


@intrinsic
def transpose_square(typingctx, src, s0, ss, dst, d0, ds):
    """dst[d0 + c ds + i] = src[s0 + i ss + c] for i, c < SIZE (ss and ds literal
    strides): the rows loaded as vectors, transposed in registers, stored as vectors."""
    if not (_c_arrays(src, dst) and src.dtype == dst.dtype
            and isinstance(ss, types.IntegerLiteral) and isinstance(ds, types.IntegerLiteral)):
        return None
    align = src.dtype.bitwidth // 8

    def codegen(context, builder, sig, args):
        vec = ir.VectorType(context.get_value_type(src.dtype), SIZE)
        loads = _vector_pointers(context, builder, src, args[0], (s0, args[1]),
                                 ss.literal_value, vec)
        stores = _vector_pointers(context, builder, dst, args[3], (d0, args[4]),
                                  ds.literal_value, vec)
        for value, p in zip(_transposed(builder, [builder.load(p, align=align) for p in loads]),
                            stores):
            builder.store(value, p, align=align)
        return context.get_dummy_value()

    return types.none(src, s0, ss, dst, d0, ds), codegen


@intrinsic
def transpose_max_square(typingctx, src, s0, dst, d0, ds, hi, lo, l0, flip):
    """:func:`transpose_square` of the SIZE rows of SIZE signed integers (float bits) at
    src[s0] (row stride SIZE) into dst (column stride ds, literal), and per row i the bit
    reductions advanced over its elements b ^ flip, as ``_bits.max_step``: hi[l0 + i] =
    max(hi[l0 + i], b ^ flip), lo[l0 + i] = min(...)."""
    if not (_c_arrays(src, dst, hi, lo) and src.dtype == dst.dtype == hi.dtype == lo.dtype
            and isinstance(src.dtype, types.Integer) and isinstance(ds, types.IntegerLiteral)
            and isinstance(flip, types.Integer)):
        return None
    align = src.dtype.bitwidth // 8

    def codegen(context, builder, sig, args):
        vec = ir.VectorType(context.get_value_type(src.dtype), SIZE)
        loads = _vector_pointers(context, builder, src, args[0], (s0, args[1]), SIZE, vec)
        stores = _vector_pointers(context, builder, dst, args[2], (d0, args[3]),
                                  ds.literal_value, vec)
        columns = _transposed(builder, [builder.load(p, align=align) for p in loads])
        for value, p in zip(columns, stores):
            builder.store(value, p, align=align)
        f = _splat(builder, context.cast(builder, args[8], flip, src.dtype), vec)
        ph = _lane_pointer(context, builder, hi, args[5], (l0, args[7]), vec)
        pl = _lane_pointer(context, builder, lo, args[6], (l0, args[7]), vec)
        h, low = builder.load(ph, align=align), builder.load(pl, align=align)
        for c in columns:
            b = builder.xor(c, f)
            h = builder.select(builder.icmp_signed(">", b, h), b, h)
            low = builder.select(builder.icmp_signed("<", b, low), b, low)
        builder.store(h, ph, align=align)
        builder.store(low, pl, align=align)
        return context.get_dummy_value()

    return types.none(src, s0, dst, d0, ds, hi, lo, l0, flip), codegen


@intrinsic
def column_sums_square(typingctx, t, t0, ts, sums, l0):
    """sums[l0 + i] += t[t0 + c ts + i] as float64, c = 0, 1, ..., SIZE - 1 in this order,
    for i < SIZE (ts a literal stride): SIZE float32 lanes, their sums in registers."""
    if not (_c_arrays(t, sums) and t.dtype == types.float32 and sums.dtype == types.float64
            and isinstance(ts, types.IntegerLiteral)):
        return None

    def codegen(context, builder, sig, args):
        vec = ir.VectorType(ir.FloatType(), SIZE)
        wide = ir.VectorType(ir.DoubleType(), SIZE)
        ps = _lane_pointer(context, builder, sums, args[3], (l0, args[4]), wide)
        s = builder.load(ps, align=8)
        columns = _vector_pointers(context, builder, t, args[0], (t0, args[1]),
                                   ts.literal_value, vec)
        for p in columns:
            s = builder.fadd(s, builder.fpext(builder.load(p, align=4), wide))
        builder.store(s, ps, align=8)
        return context.get_dummy_value()

    return types.none(t, t0, ts, sums, l0), codegen


@intrinsic
def log_rows_square(typingctx, x, x0, out, a, b, l0):
    """out[x0 + i SIZE + j] = (x[x0 + i SIZE + j] - a[l0 + i]) - b[l0 + i] for i, j < SIZE
    (out shaped as x; out may be x: each row is loaded before it is stored)."""
    if not (_c_arrays(x, out, a, b) and x.dtype == out.dtype == a.dtype == b.dtype
            and isinstance(x.dtype, types.Float)):
        return None
    align = x.dtype.bitwidth // 8

    def codegen(context, builder, sig, args):
        ety = context.get_value_type(x.dtype)
        vec = ir.VectorType(ety, SIZE)
        loads = _vector_pointers(context, builder, x, args[0], (x0, args[1]), SIZE, vec)
        stores = _vector_pointers(context, builder, out, args[2], (x0, args[1]), SIZE, vec)
        pa = _lane_pointer(context, builder, a, args[3], (l0, args[5]), ety)
        pb = _lane_pointer(context, builder, b, args[4], (l0, args[5]), ety)
        for i, (load, store) in enumerate(zip(loads, stores)):
            at = ir.Constant(ir.IntType(64), i)
            ai = _splat(builder, builder.load(builder.gep(pa, [at])), vec)
            bi = _splat(builder, builder.load(builder.gep(pb, [at])), vec)
            builder.store(builder.fsub(builder.fsub(builder.load(load, align=align), ai), bi),
                          store, align=align)
        return context.get_dummy_value()

    return types.none(x, x0, out, a, b, l0), codegen
