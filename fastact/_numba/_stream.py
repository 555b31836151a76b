"""Streaming (non-temporal) stores for the elementwise kernels' outputs.

:func:`stream_line` copies one 64-byte line into a 64-byte aligned destination
with a non-temporal vector store (LLVM ``!nontemporal`` metadata: ``vmovntps``
/ ``vmovntdq`` on x86): the line is written without being read first, so a
kernel over arrays past the last-level cache moves one stream fewer.
:func:`fence` orders those stores before what follows.  The bytes are copied
exactly.  :func:`prefetch_write` asks for lines of an output before the loop stores
to them (a hint: no values change).  :data:`AVAILABLE` is False off x86-64, where the kernels never stream.
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
def prefetch_write(typingctx, a, lo, hi):
    """Prefetch a[lo:hi] (1-D array, lo <= hi <= a.size) for writing, one request per
    64-byte line (llvm.prefetch, PREFETCHW where the CPU has it; no values change)."""
    if not (isinstance(a, types.Array) and a.ndim == 1 and isinstance(lo, types.Integer)
            and isinstance(hi, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0i8")
        size = context.get_abi_sizeof(context.get_value_type(sig.args[0].dtype))
        base = builder.bitcast(_data(context, builder, sig.args[0], args[0]), i8p)
        start = builder.mul(context.cast(builder, args[1], sig.args[1], types.intp),
                            cgutils.intp_t(size))
        end = builder.mul(context.cast(builder, args[2], sig.args[2], types.intp),
                          cgutils.intp_t(size))
        with cgutils.for_range_slice(builder, start, end, cgutils.intp_t(LINE)) as (off, _):
            builder.call(fn, [builder.gep(base, [off]), i32(1), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.none(a, lo, hi), codegen
