"""Typing-time rules of the Numba overloads: dtypes, parameters, kernel ids.

NumPy's rules, as in ``fastact._dispatch``: float32 and float64 keep their
type, bool and integers compute in float64, a backward call computes in the
promoted type of grad and x.  Numeric parameters are checked at run time
(finite, and each registry ``Param.check``); string options must be literals.
"""
from __future__ import annotations

import collections
import functools
import operator
import math  # noqa: F401 - used by the generated checkers

import numpy as np
from numba import njit, types
from numba.core.errors import TypingError
from numba.extending import overload

from ..._registry import ACTIVATIONS, REQUIRED, lookup

# every parameter name of the registry, in first-seen order (the keywords of
# derivative() and backward())
PARAM_NAMES = tuple(dict.fromkeys(p.name for a in ACTIVATIONS for p in a.params))


def given(value) -> bool:
    """True when an overload argument was passed (not None; an omitted argument
    arrives as its Python default, or as ``types.Omitted``)."""
    return isinstance(value, types.Type) and not isinstance(value, (types.NoneType,
                                                                      types.Omitted))


def input_is_array(args: dict) -> bool:
    """Whether a call's input (``x``, else ``y`` in a backward call) is an array."""
    x = args.get("x")
    if not given(x):
        x = args.get("y")
    return isinstance(types.unliteral(x), types.Array) if given(x) else False


def scalar_dtype(t, func: str):
    """The NumPy compute type for a Numba scalar or array type ``t``."""
    t = types.unliteral(t)
    dt = t.dtype if isinstance(t, types.Array) else t
    if isinstance(dt, types.Float) and dt.bitwidth in (32, 64):
        return np.float32 if dt.bitwidth == 32 else np.float64
    if isinstance(dt, (types.Integer, types.Boolean)):
        return np.float64
    raise TypingError(f"fastact.{func}(): unsupported input type {t} (use float32 or float64)")


def compute_dtype(arrays, func: str):
    """The promoted compute type of several inputs (all arrays or all scalars)."""
    kinds = {isinstance(types.unliteral(a), types.Array) for a in arrays}
    if len(kinds) > 1:
        raise TypingError(f"fastact.{func}(): grad and x must both be arrays or both scalars")
    return np.result_type(*(scalar_dtype(a, func) for a in arrays)).type


def literal_name(name, func: str) -> str:
    """The activation named by a literal string argument."""
    if isinstance(name, types.StringLiteral):
        name = name.literal_value
    if not isinstance(name, str):
        raise TypingError(f"fastact.{func}(): the activation name must be a literal string")
    try:
        return lookup(name)
    except ValueError as exc:
        raise TypingError(str(exc)) from None


def kernel_id(entry, options: dict) -> str:
    """The kernel id selected by the string options (literals) of a call."""
    values = []
    for p in entry.params:
        v = options.get(p.name)
        if p.choices is None:
            values.append(p.default if p.default is not REQUIRED else 1.0)  # checked at run time
            continue
        if isinstance(v, types.StringLiteral):
            v = v.literal_value
        elif v is None or isinstance(v, (types.NoneType, types.Omitted)):
            v = p.default
        if not isinstance(v, str):
            raise TypingError(f"fastact.{entry.name}(): {p.name} must be a literal string")
        values.append(v)
    try:
        return entry.resolve(tuple(values), exact=True)[0]
    except (TypeError, ValueError) as exc:
        raise TypingError(str(exc)) from None


def check_numeric(entry, options: dict) -> None:
    """Reject non-numeric or missing numeric parameters at typing time."""
    for p in entry.params:
        if p.choices is not None:
            continue
        v = options.get(p.name)
        if not given(v):
            if p.default is REQUIRED:
                raise TypingError(f"fastact.{entry.name}() missing required parameter {p.name!r}")
            continue
        if not isinstance(types.unliteral(v), (types.Float, types.Integer)):
            raise TypingError(f"fastact.{entry.name}(): {p.name} must be a real number, got {v}")


def numeric_exprs(entry, options: dict) -> tuple:
    """The source expressions of the formula's (a, b): given names, else defaults."""
    exprs = [p.name if given(options.get(p.name)) else repr(float(p.default))
             for p in entry.params if p.choices is None]
    return tuple(exprs + ["0.0", "0.0"])[:2]


@functools.lru_cache(maxsize=None)
def checker(name: str):
    """A jitted ``check(a, b)`` raising the Python API's ValueError for bad parameters."""
    entry = lookup(name)
    numeric = [p for p in entry.params if p.choices is None]
    lines = ["def check(a, b):"]
    namespace = {"math": math}
    for var, p in zip("ab", numeric):
        lines.append(f"    if not math.isfinite({var}):")
        lines.append(f"        raise ValueError({f'{name}(): {p.name} must be finite'!r})")
        if p.check is not None:
            namespace[f"_check_{var}"] = njit(p.check)
            lines.append(f"    if not _check_{var}({var}):")
            lines.append(f"        raise ValueError({f'{name}(): {p.name} {p.rule}'!r})")
    lines.append("    return None")
    exec("\n".join(lines), namespace)  # noqa: S102 - source generated from the registry
    return njit(nogil=True)(namespace["check"])


def overload_from_source(function, signature: str, typer, options: dict) -> None:
    """Overload ``function`` with an ``ol(signature)`` that hands its arguments, by
    name, to ``typer`` (Numba requires the overload's exact signature)."""
    names = [part.split("=")[0].strip() for part in signature.split(",")]
    source = (f"def ol({signature}):\n"
              f"    return _typer({{{', '.join(f'{n!r}: {n}' for n in names)}}})\n")
    namespace = {"_typer": typer}
    exec(source, namespace)  # noqa: S102 - the signature comes from the registry
    overload(function, **options)(namespace["ol"])


# ----------------------------------------------- from_y validity in compiled code
_PARAM_TUPLES: dict = {}


def _params_tuple(entry):
    cls = _PARAM_TUPLES.get(entry.name)
    if cls is None:
        numeric = [p.name for p in entry.params if p.choices is None]
        cls = _PARAM_TUPLES[entry.name] = collections.namedtuple(f"{entry.name}_params",
                                                                 numeric or ["unused"])
    return cls


@overload(operator.getitem)
def _params_getitem(p, key):
    """``p["alpha"]`` on a parameter tuple made by :func:`y_valid` (the registry's
    ``FromY.valid`` predicates index a dict of parameters)."""
    if (isinstance(p, types.BaseNamedTuple) and p.instance_class in _PARAM_TUPLES.values()
            and isinstance(key, types.StringLiteral)):
        index = p.instance_class._fields.index(key.literal_value)
        return lambda p, key: p[index]
    return None


@functools.lru_cache(maxsize=None)
def y_valid(name: str):
    """A jitted ``valid(a, b)``: the registry's ``FromY.valid`` for numeric parameters a, b."""
    entry = lookup(name)
    cls = _params_tuple(entry)
    n_numeric = sum(p.choices is None for p in entry.params)
    args = ", ".join("ab"[:n_numeric]) or "0.0"
    namespace = {"_cls": cls, "_valid": njit(entry.from_y.valid)}
    exec(f"def valid(a, b):\n    return _valid(_cls({args}))", namespace)  # noqa: S102
    return njit(nogil=True)(namespace["valid"])
