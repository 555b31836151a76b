"""Streaming (non-temporal) stores and write prefetches for the elementwise kernels' outputs.

:func:`stream_line` copies one 64-byte line into a 64-byte aligned destination
with a non-temporal vector store (LLVM ``!nontemporal`` metadata: ``vmovntps``
/ ``vmovntdq`` on x86): the line is written without being read first, so a
kernel over arrays past the last-level cache moves one stream fewer.
:func:`fence` orders those stores before what follows.  The bytes are copied
exactly.  :data:`AVAILABLE` is False off x86-64, where the kernels never stream.
:func:`prefetch_write` asks for output lines ahead of the stores (a hint: no values change).
The intrinsics use numba.extending.intrinsic and llvmlite IR only.
"""
from __future__ import annotations

import platform

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

AVAILABLE = platform.machine().lower() in ("x86_64", "amd64")
LINE = 64  # bytes per cache line and per streaming store


def _data(context, builder, aryty, ary):
    return context.make_array(aryty)(context, builder, ary).data


@intrinsic
def address(typingctx, a):
    """The address of a's first element (1-D array) as an integer."""
    if not (isinstance(a, types.Array) and a.ndim == 1):
        return None

    def codegen(context, builder, sig, args):
        return builder.ptrtoint(_data(context, builder, sig.args[0], args[0]), cgutils.intp_t)

    return types.intp(a), codegen


@intrinsic
def stream_line(typingctx, dst, i, src, j):
    """dst[i:i + w] = src[j:j + w], w = 64 // itemsize (1-D arrays of one dtype), with
    one non-temporal 64-byte store; dst[i] must be 64-byte aligned."""
    if not (isinstance(dst, types.Array) and isinstance(src, types.Array)
            and dst.ndim == src.ndim == 1 and dst.dtype == src.dtype):
        return None

    def codegen(context, builder, sig, args):
        lt = context.get_value_type(sig.args[0].dtype)
        size = context.get_abi_sizeof(lt)
        vt = ir.VectorType(lt, LINE // size).as_pointer()
        to = builder.gep(_data(context, builder, sig.args[0], args[0]), [args[1]])
        frm = builder.gep(_data(context, builder, sig.args[2], args[2]), [args[3]])
        line = builder.load(builder.bitcast(frm, vt), align=size)
        store = builder.store(line, builder.bitcast(to, vt), align=LINE)
        store.set_metadata("nontemporal", builder.module.add_metadata([ir.IntType(32)(1)]))
        return context.get_dummy_value()

    return types.none(dst, types.intp, src, types.intp), codegen


@intrinsic
def fence(typingctx):
    """Order the non-temporal stores before what follows (x86 sfence; elsewhere nothing)."""

    def codegen(context, builder, sig, args):
        if AVAILABLE:
            fnty = ir.FunctionType(ir.VoidType(), [])
            builder.call(cgutils.get_or_insert_function(builder.module, fnty,
                                                        "llvm.x86.sse.sfence"), [])
        return context.get_dummy_value()

    return types.none(), codegen


@intrinsic
def prefetch_write(typingctx, a, i, nbytes):
    """Prefetch a[i:] for writing, ``nbytes`` bytes from there, one request per 64-byte line
    (``llvm.prefetch`` with rw=1: PREFETCHW where the CPU has it); a hint, no values change."""
    if not (isinstance(a, types.Array) and a.ndim == 1 and isinstance(i, types.Integer)
            and isinstance(nbytes, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        base = builder.bitcast(builder.gep(_data(context, builder, sig.args[0], args[0]),
                                           [args[1]]), i8p)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
            "llvm.prefetch.p0i8")
        count = context.cast(builder, args[2], sig.args[2], types.intp)
        with cgutils.for_range_slice(builder, cgutils.intp_t(0), count,
                                     cgutils.intp_t(LINE)) as (k, _):
            builder.call(fn, [builder.gep(base, [k]), i32(1), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.none(a, i, nbytes), codegen
