"""The public gated linear units and their backward functions, generated from
``_registry.GATED``: ``glu``, ``swiglu``, ``geglu``, ``reglu`` and ``<name>_backward``."""
from __future__ import annotations

import textwrap

from . import _gated
from ._registry import BY_NAME, GATED, REQUIRED

_FORWARD = '''
def {name}(x, {second}=None, *, {params}axis=-1, out=None, backend=None):
    if {second} is not None and isinstance({second}, int):
        _check_second({second}, {name!r})
    return _forward(_spec, _act, x, {second}, axis, {values}, out, backend)
'''
_BACKWARD = '''
def {name}_backward(grad, x, {second}=None, *, {params}axis=-1, out=None, backend=None):
    if {second} is not None and isinstance({second}, int):
        _check_second({second}, {name!r} + "_backward")
    return _backward(_spec, _act, grad, x, {second}, axis, {values}, out, backend)
'''


def _check_second(other, func):
    if isinstance(other, int) and not isinstance(other, bool):
        raise TypeError(f"fastact.{func}(): the second operand is an array; the split axis "
                        f"is keyword-only: {func}(x, axis={other})")


def _doc(spec, backward: bool) -> str:
    act = BY_NAME[spec.activation]
    first = "a" if spec.gate_half else "gate"
    halves = (f"the halves of x along axis: {spec.first} = first half, {spec.second} = second"
              f" half")
    params = "".join(f"{p.name} : str, default {p.default!r}\n    {spec.activation}'s option.\n"
                     for p in act.params)
    head = (f"{spec.summary}\n\n    {spec.formula}\n\n"
            f"With one array, {halves}; with two arrays ({spec.first}, {spec.second}) they "
            f"broadcast together.\n")
    if backward:
        head = (f"Gradients of {spec.name} in one pass: d{first} = grad * d/d{first}, "
                f"d{spec.second if spec.gate_half == 0 else 'b'} likewise, from\n\n"
                f"    {spec.formula}\n\nReturns one array of x's shape (both halves) for a "
                f"split input, else the pair ({spec.first} gradient, {spec.second} gradient)."
                f"\n\n{halves}.\n")
    return (head + "\nParameters\n----------\n"
            + ("grad : array_like\n    The gradient of the output.\n" if backward else "")
            + f"x : array_like\n    The input to split, or the first operand ({spec.first}).\n"
            f"{spec.second} : array_like, optional\n    The second operand.\n{params}"
            "axis : int, default -1\n    The split axis (one-array form; its length must be "
            "even).\nout : ndarray (or a pair for two-array gradients), optional\n"
            "backend : str, optional\n")


def _make(spec, backward: bool):
    act = BY_NAME[spec.activation]
    params = "".join(
        f"{p.name}={'_REQUIRED' if p.default is REQUIRED else f'_dv[{i}]'}, "
        for i, p in enumerate(act.params))
    values = "(" + "".join(f"{p.name}, " for p in act.params) + ")"
    # the defaults themselves pass as the registry's one default tuple (resolved once)
    if act.params and all(p.default is not REQUIRED for p in act.params):
        same = " and ".join(f"{p.name} is _dv[{i}]" for i, p in enumerate(act.params))
        values = f"(_dv if {same} else {values})"
    src = textwrap.dedent((_BACKWARD if backward else _FORWARD).format(
        name=spec.name, second=spec.second, params=params, values=values))
    namespace = {"_forward": _gated.gated, "_backward": _gated.gated_backward, "_spec": spec,
                 "_act": act, "_dv": act._default_values, "_check_second": _check_second,
                 "_REQUIRED": REQUIRED}
    exec(src, namespace)  # noqa: S102 - source generated from the registry
    fn = namespace[f"{spec.name}_backward" if backward else spec.name]
    fn.__doc__ = _doc(spec, backward)
    fn.__module__ = "fastact"
    return fn


GATED_FUNCTIONS: dict = {
    name: fn
    for spec in GATED
    for name, fn in ((spec.name, _make(spec, False)), (f"{spec.name}_backward", _make(spec, True)))
}
