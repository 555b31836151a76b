"""Row-op kinds, and the choice of a kind's code while a function is typed.

A row op's kind (SOFTMAX, LOG_SOFTMAX or LOGSUMEXP) is the first element of
its op tuple (``_rows``).  The entry points of ``_tasks`` build that tuple
from a constant, so its type carries the kind as a literal; :func:`by_kind`
makes a function that calls the one kind's implementation, and a compilation
contains that kind's loops only.  A kind known only at run time (a Python
caller passing an int) gets the implementation that branches at run time:
every kind's code, the same bits.  The choice itself (:func:`chosen`) is an
intrinsic: a direct call of the chosen function, no compiled function of its own.
"""
from __future__ import annotations

from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .._cache import link_only_options

SOFTMAX, LOG_SOFTMAX, LOGSUMEXP = 0, 1, 2

# the options of the family's overloads: their implementations are link-only helpers
# (``_cache.linked``)
LINK_ONLY = dict(jit_options=link_only_options())


def literal_value(t):
    """The value of a literal Numba type, else None."""
    return t.literal_value if isinstance(t, types.Literal) else None


def literal_kind(op):
    """The kind of the op tuple type ``op`` when it is a compile-time literal, else None."""
    return literal_value(op.types[0]) if isinstance(op, types.BaseTuple) else None


def _path(path):
    """An argument path: an index into a call's arguments, or a tuple of indices (the
    first into the arguments, the others into nested tuples)."""
    return path if isinstance(path, tuple) else (path,)


def _picked_type(args, path):
    path = _path(path)
    ty = args[path[0]]
    for i in path[1:]:
        ty = ty[i]
    return ty


def _picked_value(builder, values, path):
    path = _path(path)
    value = values[path[0]]
    for i in path[1:]:
        value = builder.extract_value(value, i)
    return value


def chosen(select):
    """``f(*args)`` calling, while typed, ``function(*picked args)`` for ``(function,
    picks) = select(*types of args)``: a compiled function (or an intrinsic); picks None
    (every argument, in order) or a tuple of argument paths (see :func:`_path`)."""

    @intrinsic(prefer_literal=True)
    def call(typingctx, *args):
        if len(args) == 1 and isinstance(args[0], types.StarArgTuple):
            args = args[0].types
        function, picks = select(*args)
        picks = tuple(range(len(args))) if picks is None else picks
        picked = [_picked_type(args, p) for p in picks]
        fnty = typingctx.resolve_value_type(function)
        target = typingctx.resolve_function_type(fnty, tuple(picked), {})
        if target is None:
            return None

        # a target taking *args (another of these) takes them as one tuple
        packed = len(target.args) == 1 and isinstance(target.args[0], types.StarArgTuple)
        wanted = target.args[0].types if packed else target.args

        def codegen(context, builder, sig, llargs):
            values = cgutils.unpack_tuple(builder, llargs[0])
            chosen_args = [context.cast(builder, _picked_value(builder, values, p), ty, want)
                           for p, ty, want in zip(picks, picked, wanted)]
            if packed:
                chosen_args = [context.make_tuple(builder, target.args[0], chosen_args)]
            return context.get_function(fnty, target)(builder, chosen_args)

        return target.return_type(types.StarArgTuple.from_types(tuple(args))), codegen

    return call


def by_kind(softmax, log, runtime, softmax_picks=None, log_picks=None):
    """``f(op, *args)`` calling ``softmax`` (kind SOFTMAX) or ``log`` (the log ops) for the
    literal kind of op, ``runtime`` (every argument) when the kind is not a literal; the
    picks: each one's arguments (see :func:`chosen`)."""

    def select(op, *args):
        kind = literal_kind(op)
        if kind is None:
            return runtime, None
        return (softmax, softmax_picks) if kind == SOFTMAX else (log, log_picks)

    return chosen(select)
