"""Types of the public API, for type checkers and IDEs.

The activation functions are generated at import from the registry, so a type
checker cannot see them; each is declared in ``fastact/_declarations.py`` with
a protocol from here giving its exact signature, and ``fastact/__init__.py``
imports those declarations when type checking only.  ``tests/test_typing.py``
checks every declaration against the generated function, so the two cannot
drift apart.
"""
from __future__ import annotations

from typing import Any, Literal, Optional, Protocol

import numpy as np
from numpy.typing import ArrayLike

Out = Optional[np.ndarray]  # out=: where to write the result
Backend = Optional[str]  # "numpy", "numba", "cython", "auto" (any case) or None: the current one
Result = Any  # an ndarray, or a NumPy scalar for 0-d input without out=


class Unary(Protocol):
    def __call__(self, x: ArrayLike, *,
                 bias: Optional[ArrayLike] = None, out: Out = None,
                 backend: Backend = None) -> Result: ...


class LeakyReLU(Protocol):
    def __call__(self, x: ArrayLike, negative_slope: float = 0.01, *,
                 bias: Optional[ArrayLike] = None, out: Out = None,
                 backend: Backend = None) -> Result: ...


class GELU(Protocol):
    def __call__(self, x: ArrayLike, approximate: Literal["none", "tanh"] = "none", *,
                 bias: Optional[ArrayLike] = None, out: Out = None,
                 backend: Backend = None) -> Result: ...


class Swish(Protocol):
    def __call__(self, x: ArrayLike, beta: float = 1.0, *,
                 bias: Optional[ArrayLike] = None, out: Out = None,
                 backend: Backend = None) -> Result: ...


class Softplus(Protocol):
    def __call__(self, x: ArrayLike, beta: float = 1.0, threshold: float = 20.0, *,
                 bias: Optional[ArrayLike] = None, out: Out = None,
                 backend: Backend = None) -> Result: ...


class ELU(Protocol):
    def __call__(self, x: ArrayLike, alpha: float = 1.0, *,
                 bias: Optional[ArrayLike] = None, out: Out = None,
                 backend: Backend = None) -> Result: ...


class Hardtanh(Protocol):
    def __call__(self, x: ArrayLike, min_val: float = -1.0, max_val: float = 1.0, *,
                 bias: Optional[ArrayLike] = None, out: Out = None,
                 backend: Backend = None) -> Result: ...


class Shrink(Protocol):
    def __call__(self, x: ArrayLike, lambd: float = 0.5, *,
                 bias: Optional[ArrayLike] = None, out: Out = None,
                 backend: Backend = None) -> Result: ...


class Threshold(Protocol):
    def __call__(self, x: ArrayLike, threshold: float, value: float, *,
                 bias: Optional[ArrayLike] = None, out: Out = None,
                 backend: Backend = None) -> Result: ...


class RowFunction(Protocol):
    def __call__(self, x: ArrayLike, axis: Optional[int] = -1, *, where: Optional[ArrayLike] = None,
                 out: Out = None, backend: Backend = None) -> Result: ...


class Reduction(Protocol):
    def __call__(self, x: ArrayLike, axis: Optional[int] = -1, keepdims: bool = False, *,
                 where: Optional[ArrayLike] = None, out: Out = None,
                 backend: Backend = None) -> Result: ...


class RowBackward(Protocol):
    def __call__(self, grad: ArrayLike, y: ArrayLike, axis: Optional[int] = -1, *,
                 out: Out = None, backend: Backend = None) -> Result: ...


class GLU(Protocol):
    def __call__(self, x: ArrayLike, b: Optional[ArrayLike] = None, *, axis: int = -1,
                 out: Out = None, backend: Backend = None) -> Result: ...


class Gated(Protocol):
    def __call__(self, x: ArrayLike, up: Optional[ArrayLike] = None, *, axis: int = -1,
                 out: Out = None, backend: Backend = None) -> Result: ...


class GeGLU(Protocol):
    def __call__(self, x: ArrayLike, up: Optional[ArrayLike] = None, *,
                 approximate: Literal["none", "tanh"] = "none", axis: int = -1,
                 out: Out = None, backend: Backend = None) -> Result: ...


class GLUBackward(Protocol):
    def __call__(self, grad: ArrayLike, x: ArrayLike, b: Optional[ArrayLike] = None, *,
                 axis: int = -1, out: Any = None, backend: Backend = None) -> Result: ...


class GatedBackward(Protocol):
    def __call__(self, grad: ArrayLike, x: ArrayLike, up: Optional[ArrayLike] = None, *,
                 axis: int = -1, out: Any = None, backend: Backend = None) -> Result: ...


class GeGLUBackward(Protocol):
    def __call__(self, grad: ArrayLike, x: ArrayLike, up: Optional[ArrayLike] = None, *,
                 approximate: Literal["none", "tanh"] = "none", axis: int = -1,
                 out: Any = None, backend: Backend = None) -> Result: ...
