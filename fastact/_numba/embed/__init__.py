"""fastact's public functions inside users' ``@numba.njit`` code.

``register()`` (called through the ``numba_extensions`` entry point, see
``fastact/_numba_ext.py``) overloads, for Numba:

* every elementwise activation ``fastact.<name>(x, <params>, out=None)``, and
  ``fastact.derivative(name, x, ...)`` / ``fastact.backward(name, grad, x=, y=, ...)``
  with a literal ``name`` (``_elementwise``);
* the softmax family on 1-D and 2-D arrays along the last axis (``_rowwise``).

The loops are the Numba backend's (same scalar formula, same NaN rule, same
store), so results are bit-for-bit those of ``backend="numba"``.  Only the
formula a call needs is compiled, on the user's first compile.
"""
from __future__ import annotations

_state = {"registered": False}


def register() -> None:
    """Register every overload once per process."""
    if _state["registered"]:
        return
    _state["registered"] = True
    from . import _elementwise, _rowwise

    _elementwise.register()
    _rowwise.register()


__all__ = ["register"]
