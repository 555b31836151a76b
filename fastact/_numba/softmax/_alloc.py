"""Scratch arrays allocated in place, without compiling NumPy's constructors.

``empty(shape, dtype)`` and ``zeros(shape, dtype)`` are ``np.empty`` and ``np.zeros``
(C order, NumPy's alignment, Numba's reference-counted memory) as intrinsics: Numba
compiles ``np.empty`` as two functions of its own and ``np.zeros`` as two more in
every cold call; these are lowered in place.  Sizes are those of existing arrays
(no overflow check).  ``local_zeros(n, dtype)`` is a zeroed 1-D array of a constant
n on the stack of the function it is lowered into (no heap allocation, no reference
count): it must not outlive that call.
"""
from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.arrayobj import _parse_shape, make_array, populate_array, ty_parse_dtype


def _array_type(shape, dtype):
    """The C-order array type of np.empty(shape, dtype), or None."""
    nb_dtype = ty_parse_dtype(dtype)
    if isinstance(shape, types.Integer):
        ndim = 1
    elif isinstance(shape, types.BaseTuple) and all(isinstance(t, types.Integer)
                                                    for t in shape):
        ndim = len(shape)
    else:
        return None
    return None if nb_dtype is None else types.Array(nb_dtype, ndim, "C")


def _allocate(context, builder, arrtype, shapes):
    """A new C-order array of arrtype with dimensions shapes (intp values)."""
    ary = make_array(arrtype)(context, builder)
    itemsize = context.get_constant(types.intp, context.get_abi_sizeof(
        context.get_data_type(arrtype.dtype)))
    strides = [itemsize]
    for size in reversed(shapes[1:]):
        strides.append(builder.mul(strides[-1], size))
    nbytes = itemsize
    for size in shapes:
        nbytes = builder.mul(nbytes, size)
    align = context.get_constant(types.uint32,
                                 context.get_preferred_array_alignment(arrtype.dtype))
    meminfo = context.nrt.meminfo_alloc_aligned(builder, nbytes, align)
    intp = context.get_value_type(types.intp)
    populate_array(ary, data=builder.bitcast(context.nrt.meminfo_data(builder, meminfo),
                                             context.get_data_type(arrtype.dtype).as_pointer()),
                   shape=cgutils.pack_array(builder, shapes, ty=intp),
                   strides=cgutils.pack_array(builder, strides[::-1], ty=intp),
                   itemsize=itemsize, meminfo=meminfo)
    return ary


def _constructor(name, fill_zero):
    """The intrinsic ``name(shape, dtype)``: a new array, zeroed if ``fill_zero``."""

    def typer(typingctx, shape, dtype):
        arrtype = _array_type(shape, dtype)
        if arrtype is None:
            return None

        def codegen(context, builder, sig, args):
            shapes = _parse_shape(context, builder, sig.args[0], args[0])
            ary = _allocate(context, builder, arrtype, shapes)
            if fill_zero:
                cgutils.memset(builder, ary.data, builder.mul(ary.itemsize, ary.nitems), 0)
            return ary._getvalue()

        return arrtype(shape, dtype), codegen

    typer.__name__ = name
    return intrinsic(typer)


empty = _constructor("empty", False)
zeros = _constructor("zeros", True)


@intrinsic
def local_zeros(typingctx, n, dtype):
    """``local_zeros(n, dtype)``: a zeroed C array of n (a constant) elements of dtype in
    the calling function's stack frame, without meminfo; valid until that function returns."""
    nb_dtype = ty_parse_dtype(dtype)
    if not isinstance(n, types.IntegerLiteral) or nb_dtype is None:
        return None
    arrtype = types.Array(nb_dtype, 1, "C")
    count = n.literal_value

    def codegen(context, builder, sig, args):
        elem = context.get_data_type(nb_dtype)
        slot = cgutils.alloca_once(builder, ir.ArrayType(elem, count))  # in the entry block
        builder.store(ir.ArrayType(elem, count)(None), slot)  # zeroed at each call
        ary = make_array(arrtype)(context, builder)
        intp = context.get_value_type(types.intp)
        itemsize = intp(context.get_abi_sizeof(elem))
        populate_array(ary, data=builder.bitcast(slot, elem.as_pointer()),
                       shape=cgutils.pack_array(builder, [intp(count)], ty=intp),
                       strides=cgutils.pack_array(builder, [itemsize], ty=intp),
                       itemsize=itemsize, meminfo=None)
        return ary._getvalue()

    return arrtype(n, dtype), codegen
