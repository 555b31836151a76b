"""Overloads of the elementwise functions for users' ``@numba.njit`` code.

Generated from the registry: ``fastact.<name>(x, <params>, out=None, backend=None)``
for every activation (parameters with the Python API's names and defaults),
``fastact.derivative(name, x, ..., **params)`` and
``fastact.backward(name, grad, x=None, y=None, ..., **params)`` with a literal
``name``.  A scalar x gives a scalar of its type; an array gives a new array,
or fills ``out`` (same shape, the result's dtype) and returns it.  ``backend``
is accepted and ignored (compiled code always runs these loops).
"""
from __future__ import annotations

import functools

import numpy as np
from numba import types
from numba.core.errors import TypingError
from numba.np import numpy_support

from ..._registry import ACTIVATIONS, MODES, REQUIRED, kernel_modes, lookup
from . import _kernels, _typing

_JIT_OPTIONS = dict(nogil=True, error_model="numpy")
_OPTIONS = dict(prefer_literal=True, jit_options=_JIT_OPTIONS)
# A scalar call's implementation is marked alwaysinline for LLVM: it then becomes
# part of the caller's loop, which can vectorize (a call would keep it scalar).
_SCALAR_OPTIONS = dict(prefer_literal=True, jit_options=dict(_JIT_OPTIONS, forceinline=True))
_COMMON_TAIL = "out=None, backend=None"
_GENERIC_PARAMS = ", ".join(f"{name}=None" for name in _typing.PARAM_NAMES)


@functools.lru_cache(maxsize=None)
def _pieces(kernel_id: str, mode: str, dtype):
    """``(scalar_call, new_array, into)`` of one kernel in one mode and dtype."""
    from .. import _formulas  # on first use: registering imports no formula

    formula_name, takes_grad = MODES[mode]
    formula = getattr(_formulas, f"{kernel_id}__{formula_name}")
    return _kernels.make(formula, takes_grad, dtype)


def _implementation(signature: str, entry, mode: str, call: dict):
    """The overload's implementation: ``signature`` plus a body that checks the
    parameters and runs the kernel of ``mode`` on ``call``'s arguments."""
    options = call["options"]
    x, g = call["x"], call["grad"]
    dtype = _typing.compute_dtype([call["types"][x], call["types"][g]], entry.name)
    kernel_id = _typing.kernel_id(entry, options)
    _typing.check_numeric(entry, options)
    a, b = _typing.numeric_exprs(entry, options)
    is_array = isinstance(call["types"][x], types.Array)
    out = call["types"]["out"]
    if _typing.given(out):
        if not is_array:
            raise TypingError(f"fastact.{entry.name}(): out= needs an array input")
        if not isinstance(out, types.Array) or out.dtype != numpy_support.from_dtype(np.dtype(dtype)):
            raise TypingError(f"fastact.{entry.name}(): out must be a {np.dtype(dtype)} array")
    form = 2 if _typing.given(out) else 1 if is_array else 0  # into, new array, scalar
    tail = ", out)" if form == 2 else ")"
    checks = f"    _check({a}, {b})\n"
    if mode == "backward_y":
        checks += f"    _y_check({a}, {b})\n"
    namespace = {"_check": _typing.checker(entry.name),
                 "_run": _pieces(kernel_id, mode, dtype)[form]}
    same = entry.same_as
    if same is not None and mode in _kernel_modes_of(same.activation):
        # the values at which the activation is another one run the other's kernel, as the
        # Python API does (same bits)
        other_id, other_params = _same_as_kernel(same.activation)
        names = [p.name for p in entry.params if p.choices is None]
        cond = " and ".join(f"{(a, b)[names.index(n)]} == {v!r}" for n, v in same.values)
        oa, ob = (tuple(repr(float(v)) for v in other_params) + ("0.0", "0.0"))[:2]
        checks += f"    if {cond}:\n        return _other({x}, {g}, {oa}, {ob}{tail}\n"
        namespace["_other"] = _pieces(other_id, mode, dtype)[form]
    source = f"def impl({signature}):\n{checks}    return _run({x}, {g}, {a}, {b}{tail}\n"
    if mode == "backward_y":
        namespace["_y_check"] = _y_checker(entry.name)
    exec(source, namespace)  # noqa: S102 - source generated from the registry
    return namespace["impl"]


def _same_as_kernel(name: str) -> tuple:
    """(kernel id, numeric parameters) of activation ``name`` at its defaults."""
    other = lookup(name)
    return other.resolve(other.bind((), {}))


def _kernel_modes_of(name: str) -> tuple:
    return kernel_modes(_same_as_kernel(name)[0])


@functools.lru_cache(maxsize=None)
def _y_checker(name: str):
    """``check(a, b)``: ValueError unless f' is a function of y for these parameters."""
    from numba import njit

    valid = _typing.y_valid(name)
    message = f"fastact.backward({name!r}): cannot use y= for these parameters; pass x="

    @njit(nogil=True)
    def check(a, b):
        if not valid(a, b):
            raise ValueError(message)

    return check


# ------------------------------------------------------------ forward functions
def _forward_signature(entry) -> str:
    params = "".join(
        f", {p.name}" if p.default is REQUIRED else f", {p.name}={p.default!r}"
        for p in entry.params
    )
    return f"x{params}, {_COMMON_TAIL}"


def _register_forward(entry, function) -> None:
    signature = _forward_signature(entry)

    def typer(args):
        call = {"x": "x", "grad": "x", "types": args,
                "options": {k: args[k] for k in entry.param_names}}
        return _implementation(signature, entry, "forward", call)

    _overload(function, signature, typer)


# ------------------------------------------------------- derivative and backward
def _options(entry, args: dict, func: str) -> dict:
    """The parameters of ``entry`` among a generic call's keywords (others: an error)."""
    for name in _typing.PARAM_NAMES:
        if name not in entry.param_names and _typing.given(args[name]):
            raise TypingError(f"fastact.{func}({entry.name!r}): unexpected parameter {name!r}; "
                              f"its parameters are: {', '.join(entry.param_names) or 'none'}")
    return {k: args[k] for k in entry.param_names}


_DERIVATIVE_SIGNATURE = f"name, x, {_COMMON_TAIL}, {_GENERIC_PARAMS}"
_BACKWARD_SIGNATURE = f"name, grad, x=None, y=None, {_COMMON_TAIL}, {_GENERIC_PARAMS}"


def _derivative_typer(args):
    entry = _typing.literal_name(args["name"], "derivative")
    call = {"x": "x", "grad": "x", "types": args,
            "options": _options(entry, args, "derivative")}
    return _implementation(_DERIVATIVE_SIGNATURE, entry, "derivative", call)


def _backward_typer(args):
    entry = _typing.literal_name(args["name"], "backward")
    has_x, has_y = _typing.given(args["x"]), _typing.given(args["y"])
    if has_x == has_y:
        raise TypingError(f"fastact.backward({entry.name!r}): pass the forward input x= or "
                          "the output y= (one of them)")
    if has_y and entry.from_y is None:
        raise TypingError(f"fastact.backward({entry.name!r}): cannot use y= (its derivative "
                          "is not a function of its output); pass the forward input x=")
    call = {"x": "x" if has_x else "y", "grad": "grad", "types": args,
            "options": _options(entry, args, "backward")}
    mode = "backward" if has_x else "backward_y"
    return _implementation(_BACKWARD_SIGNATURE, entry, mode, call)


def _overload(function, signature: str, typer) -> None:
    """Two overloads of ``function``: one for array inputs (``_OPTIONS``), one for
    scalars (``_SCALAR_OPTIONS``); ``typer(args)`` gives the implementation of both."""

    def of_kind(array: bool):
        def typer_of_kind(args):
            if _typing.input_is_array(args) != array:
                return None
            return typer(args)

        return typer_of_kind

    _typing.overload_from_source(function, signature, of_kind(True), _OPTIONS)
    _typing.overload_from_source(function, signature, of_kind(False), _SCALAR_OPTIONS)


def register() -> None:
    """Overload every activation function, ``derivative`` and ``backward``."""
    import fastact

    for entry in ACTIVATIONS:
        _register_forward(entry, getattr(fastact, entry.name))
    _overload(fastact.derivative, _DERIVATIVE_SIGNATURE, _derivative_typer)
    _overload(fastact.backward, _BACKWARD_SIGNATURE, _backward_typer)
