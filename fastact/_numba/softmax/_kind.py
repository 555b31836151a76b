"""Row-op kinds, and the choice of a kind's code while a function is typed.

A row op's kind (SOFTMAX, LOG_SOFTMAX or LOGSUMEXP) is the first element of
its op tuple (``_rows``).  The entry points of ``_tasks`` build that tuple
from a constant, so its type carries the kind as a literal; :func:`by_kind`,
called from an ``@overload(..., prefer_literal=True)``, then picks the one
kind's implementation, and a compilation contains that kind's loops only.  A
kind known only at run time (a Python caller passing an int) gets the
implementation that branches at run time: every kind's code, the same bits.
"""
from __future__ import annotations

from numba import types

from .._cache import link_only_options

SOFTMAX, LOG_SOFTMAX, LOGSUMEXP = 0, 1, 2

# overloads that must see the literal kind (Numba tries non-literal types first otherwise);
# those returning nothing are not inlined: Numba 0.68's typed inlining of such an overload
# dropped a caller's later ``if kind == ...: ...; return`` branch (logsumexp wrote nothing).
# Their implementations are link-only helpers (``_cache.linked``), as every overload's here.
LINK_ONLY = dict(jit_options=link_only_options())
LITERAL = dict(prefer_literal=True, **LINK_ONLY)


def literal_value(t):
    """The value of a literal Numba type, else None."""
    return t.literal_value if isinstance(t, types.Literal) else None


def literal_kind(op):
    """The kind of the op tuple type ``op`` when it is a compile-time literal, else None."""
    return literal_value(op.types[0]) if isinstance(op, types.BaseTuple) else None


def by_kind(op, softmax_impl, log_impl, runtime_impl):
    """``softmax_impl`` (kind SOFTMAX) or ``log_impl`` (the log ops) for the literal kind
    of ``op``; ``runtime_impl`` when the kind is not a literal."""
    kind = literal_kind(op)
    if kind is None:
        return runtime_impl
    return softmax_impl if kind == SOFTMAX else log_impl
