"""The public functions, generated from the registry.

For every :class:`~fastact._registry.ActivationSpec` a function with PyTorch's
name and parameter names is generated (real Python parameters, so calls cost
no argument parsing), with a docstring built from the registry's formulas.
``derivative``, ``backward``, ``get`` and ``activations`` work for any
entry by name; the softmax family is generated from ``ROW_OPS``.
"""
from __future__ import annotations

import textwrap
from typing import Any, Literal, Optional

from numpy.typing import ArrayLike

from . import _dispatch, _fused, _gated
from ._registry import ACTIVATIONS, ALIASES, BY_NAME, GATED, REQUIRED, ROW_OPS, lookup
from ._typing import Backend, Out, Result

_COMMON_DOC = """
Parameters
----------
x : array_like
    Input; float32/float64 keep their dtype, float16 is computed in float32,
    bool/int become float64.
{params}bias : array_like, optional
    Added to x first, in the same pass: f(x + bias), bias broadcast against x
    (a per-feature bias of length x.shape[-1] is the fast path).
out : ndarray, optional
    Where to write the result (shape and dtype of the result; may be ``x``).
backend : {{"numpy", "numba", "cython", "auto"}}, optional
    Implementation to use; default: ``fastact.get_backend()``.

Returns
-------
ndarray (a NumPy scalar for 0-d input without ``out``), or ``out``.
"""


def _doc(entry) -> str:
    params = "".join(
        f"{p.name} : {'str' if p.choices else 'float'}"
        f"{'' if p.default is REQUIRED else f', default {p.default!r}'}\n"
        f"{'    One of ' + ', '.join(map(repr, p.choices)) + '.' if p.choices else ''}"
        f"{chr(10) if p.choices else ''}"
        for p in entry.params
    )
    y_line = (
        f"f' from the output: {entry.from_y.formula}\n"
        if entry.from_y is not None
        else "f' needs the input x (it is not a function of the output).\n"
    )
    return (
        f"{entry.summary}\n\n    {entry.formula}\n\n"
        f"Derivative: {entry.derivative_formula}\n{y_line}"
        f"(see ``fastact.derivative`` and ``fastact.backward``)\n"
        + _COMMON_DOC.format(params=params)
    )


def _make_forward(entry):
    sig = ", ".join(
        p.name if p.default is REQUIRED else f"{p.name}=_defaults[{p.name!r}]" for p in entry.params
    )
    values = "(" + "".join(f"{p.name}, " for p in entry.params) + ")"
    # the defaults themselves pass as the registry's one default tuple (resolved once)
    if entry.params and all(p.default is not REQUIRED for p in entry.params):
        same = " and ".join(f"{p.name} is _dv[{i}]" for i, p in enumerate(entry.params))
        values = f"_dv if {same} else {values}"
    src = textwrap.dedent(
        f"""
        def {entry.name}(x{', ' + sig if sig else ''}, *, bias=None, out=None, backend=None):
            values = {values}
            if bias is None:
                return _elementwise(_entry, "forward", x, values, out, backend)
            return _biased(_entry, "forward", x, values, bias, out, backend)
        """
    )
    namespace = {"_elementwise": _dispatch.elementwise, "_biased": _fused.biased,
                 "_entry": entry, "_defaults": entry.defaults, "_dv": entry._default_values}
    exec(src, namespace)  # noqa: S102 - source generated from the registry above
    fn = namespace[entry.name]
    fn.__annotations__ = _annotations(entry)
    fn.__doc__ = _doc(entry)
    fn.__module__ = "fastact"
    fn.__qualname__ = entry.name
    return fn


def _annotations(entry) -> dict:
    """The generated function's annotations (``inspect.signature`` shows them)."""
    params = {p.name: Literal[p.choices] if p.choices else float for p in entry.params}
    return {"x": ArrayLike, **params, "bias": Optional[ArrayLike], "out": Out,
            "backend": Backend, "return": Result}


FUNCTIONS: dict = {entry.name: _make_forward(entry) for entry in ACTIVATIONS}
ALIAS_FUNCTIONS: dict = {alias: FUNCTIONS[name] for alias, name in ALIASES.items()}


def activations() -> list[str]:
    """The names of every elementwise activation (aliases not included)."""
    return [entry.name for entry in ACTIVATIONS]


def derivative(name: str, x: ArrayLike, *, bias: Optional[ArrayLike] = None, out: Out = None,
               backend: Backend = None, **params: Any) -> Result:
    """f'(x) for the activation ``name`` with the given parameters; f'(x + bias) with
    ``bias`` (one pass).

    Derivatives at kinks follow PyTorch's autograd: relu'(0) = 0,
    leaky_relu'(0) = negative_slope, hardtanh'(min_val) = 0, ...
    NaN in x gives NaN.
    """
    entry = lookup(name)
    values = entry.bind((), params)
    if bias is not None:
        return _fused.biased(entry, "derivative", x, values, bias, out, backend)
    return _dispatch.elementwise(entry, "derivative", x, values, out, backend)


def backward(name: str, grad: ArrayLike, x: Optional[ArrayLike] = None, *,
             y: Optional[ArrayLike] = None, bias: Optional[ArrayLike] = None,
             bias_grad: bool = False, out: Out = None, backend: Backend = None,
             **params: Any) -> Result:
    """grad * f'(x) in one fused pass (the vector-Jacobian product of ``name``).

    Pass the forward input ``x``, or, where f' is a function of the output
    (sigmoid, tanh, relu, elu with alpha >= 0, ...), the forward output
    ``y = f(x)`` instead.  ``grad`` and ``x``/``y`` broadcast together.

    With ``bias``: dz = grad * f'(x + bias) in the same pass (with ``y=``, y is
    f(x + bias) already and only the shape of bias is used).  ``bias_grad=True``
    returns ``(dz, db)``, db = dz summed over the axes along which bias is
    broadcast (float64 partial sums of fixed row blocks added in a fixed order:
    bitwise the same for any thread count), in dz's dtype.
    """
    entry = lookup(name)
    values = entry.bind((), params)
    if bias_grad and bias is None:
        raise TypeError(f"fastact.backward({entry.name!r}): bias_grad=True needs the bias= "
                        "(its shape says which axes to sum)")
    if grad is None:
        raise TypeError(f"fastact.backward({entry.name!r}): grad must be an array, got None")
    if x is not None and y is not None:
        raise TypeError(f"fastact.backward({entry.name!r}): pass the forward input x= or the "
                        "output y=, not both")
    if x is not None:
        if bias is not None:
            return _fused.biased(entry, "backward", x, values, bias, out, backend, grad,
                                 bias_grad)
        return _dispatch.elementwise(entry, "backward", x, values, out, backend, grad)
    if y is None:
        raise TypeError(f"fastact.backward({entry.name!r}): pass the forward input x= or output y=")
    if not entry.accepts_y(values):
        why = (
            "for these parameters"
            if entry.from_y is not None
            else "(its derivative is not a function of its output)"
        )
        raise ValueError(
            f"fastact.backward({entry.name!r}): cannot use y= {why}; pass the forward input x="
        )
    if bias is not None:
        return _fused.biased(entry, "backward_y", y, values, bias, out, backend, grad,
                             bias_grad)
    return _dispatch.elementwise(entry, "backward_y", y, values, out, backend, grad)


class Activation:
    """An activation with bound parameters: ``fastact.get("leaky_relu", negative_slope=0.2)``.

    ``act(x)`` / ``act.forward(x)`` compute f(x), ``act.derivative(x)`` f'(x),
    ``act.backward(grad, x=..., y=...)`` grad * f'(x).  Every method takes
    ``out=`` and ``backend=`` keywords.
    """

    __slots__ = ("_entry", "_values", "name", "params")

    def __init__(self, name: str, **params: Any):
        self._entry = lookup(name)
        self._values = self._entry.bind((), params)
        self._entry.resolve(self._values)  # validate now, not at the first call
        self.name = self._entry.name
        self.params = dict(zip(self._entry.param_names, self._values))

    def forward(self, x: ArrayLike, *, bias: Optional[ArrayLike] = None, out: Out = None,
                backend: Backend = None) -> Result:
        if bias is not None:
            return _fused.biased(self._entry, "forward", x, self._values, bias, out, backend)
        return _dispatch.elementwise(self._entry, "forward", x, self._values, out, backend)

    __call__ = forward

    def derivative(self, x: ArrayLike, *, bias: Optional[ArrayLike] = None, out: Out = None,
                   backend: Backend = None) -> Result:
        if bias is not None:
            return _fused.biased(self._entry, "derivative", x, self._values, bias, out, backend)
        return _dispatch.elementwise(self._entry, "derivative", x, self._values, out, backend)

    def backward(self, grad: ArrayLike, x: Optional[ArrayLike] = None, *,
                 y: Optional[ArrayLike] = None, bias: Optional[ArrayLike] = None,
                 bias_grad: bool = False, out: Out = None, backend: Backend = None) -> Result:
        return backward(self.name, grad, x, y=y, bias=bias, bias_grad=bias_grad, out=out,
                        backend=backend, **self.params)

    @property
    def accepts_y(self) -> bool:
        """True when ``backward`` may be given the output y instead of x."""
        return self._entry.accepts_y(self._values)

    def __repr__(self):
        args = "".join(f", {k}={v!r}" for k, v in self.params.items())
        return f"fastact.get({self.name!r}{args})"

    def __eq__(self, other):
        return isinstance(other, Activation) and (self.name, self._values) == (
            other.name,
            other._values,
        )

    def __hash__(self):
        return hash((self.name, self._values))


def get(name: str, **params: Any) -> Activation:
    """The activation ``name`` with parameters bound (validated now)."""
    return Activation(name, **params)


# --------------------------------------------------------------- softmax family
def _make_rowwise(op):
    if op.backward:
        def fn(grad: ArrayLike, y: ArrayLike, axis: Optional[int] = -1, *, out: Out = None,
               backend: Backend = None) -> Result:
            return _dispatch.rowwise(op.name, y, grad, axis, out, backend)
        args = "grad, y : array_like\n    Upstream gradient and the forward output.\n"
    elif op.reduces:
        def fn(x: ArrayLike, axis: Optional[int] = -1, keepdims: bool = False, *,
               where: Optional[ArrayLike] = None, out: Out = None,
               backend: Backend = None) -> Result:
            return _dispatch.rowwise(op.name, x, None, axis, out, backend, where, keepdims)
        args = (
            "x : array_like\nkeepdims : bool\n    Keep the reduced axis with length 1.\n"
            "where : bool array_like, optional\n    Entries to include (broadcast to x); "
            "a row with none gives -inf.\n"
        )
    else:
        def fn(x: ArrayLike, axis: Optional[int] = -1, *, where: Optional[ArrayLike] = None,
               out: Out = None, backend: Backend = None) -> Result:
            return _dispatch.rowwise(op.name, x, None, axis, out, backend, where)
        masked = "-inf" if op.name == "log_softmax" else "0"
        args = (
            "x : array_like\nwhere : bool array_like, optional\n    Entries to include "
            f"(broadcast to x); excluded entries give {masked}, and a row with no entries "
            f"(or only -inf) gives {masked} throughout, never NaN.\n"
        )
    fn.__name__ = fn.__qualname__ = op.name
    fn.__module__ = "fastact"
    fn.__doc__ = (
        f"{op.summary}\n\n    {op.formula}\n\nNumerically stable; a row holding +inf or NaN "
        f"gives NaN on that row only.\n\nParameters\n----------\n{args}"
        "axis : int or None, default -1\n    The axis to work along (None: all elements).\n"
        "out : ndarray, optional\nbackend : str, optional\n"
    )
    return fn


ROW_FUNCTIONS: dict = {op.name: _make_rowwise(op) for op in ROW_OPS}
