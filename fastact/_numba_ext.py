"""Numba's entry point into fastact (``[project.entry-points.numba_extensions]``).

Numba calls :func:`init` once, when it first compiles something; from then on
the public functions (``fastact.gelu``, ``fastact.derivative``,
``fastact.softmax``, ...) can be called inside users' ``@numba.njit`` code.
Registering costs an import of the registry; nothing is compiled until a
user's function calls one of them.
"""


def init() -> None:
    """Register fastact's Numba overloads (idempotent)."""
    from ._numba.embed import register

    register()
