"""NumPy ufuncs of every activation, from the Cython backend's loops.

For each kernel id of the registry (``fastact.activations()``, and one more per
string choice: ``gelu_tanh`` is ``gelu(approximate="tanh")``) three genuine
``numpy.ufunc`` objects:

* ``<id>(x, *params)``: f(x);
* ``<id>_derivative(x, *params)``: f'(x);
* ``<id>_backward(grad, x, *params)``: grad * f'(x);
* ``<id>_bias(x, b, *params)``: f(x + b), the bias add fused (as ``fastact.<name>(x,
  bias=b)``: x + b rounded to the dtype, then f; b broadcasts like any operand);
* ``<id>_bias_backward(grad, x, b, *params)``: grad * f'(x + b) (the bias gradient,
  a reduction, is ``fastact.backward(name, grad, x, bias=b, bias_grad=True)``'s).

and for each gated unit the two-array forward ``glu(a, b)``, ``swiglu(gate, up)``,
``geglu(gate, up)``, ``geglu_tanh(gate, up)`` (geglu with ``approximate="tanh"``),
``reglu(gate, up)``: ``act(gate) * up`` in one pass, the operands broadcasting.

The numeric parameters are trailing positional inputs that broadcast like any
operand (a per-channel ``negative_slope`` array works); every parameter must be
given (``fastact.ufuncs.leaky_relu(x, 0.01)``), and, as with NumPy's own ufuncs,
values are not validated.  Loops exist for float32 and float64, and for
bfloat16 once ml_dtypes is imported (computed in float32, parameters float32,
result bfloat16); NumPy casts other inputs (float16 and int8/int16 compute in
float32, int32/int64 in float64)
and supplies ``out=``, ``where=``, ``dtype=``, ``casting=``, ``.outer`` and
``__array_ufunc__`` dispatch (dask, xarray, masked arrays).  Results equal the
public functions' bit for bit on the same float32/float64 input.  Contiguous
spans with constant parameters use ``fastact.get_num_threads()`` threads when
long, one thread on the short chunks NumPy passes when it casts.

This module is imported on first use of ``fastact.ufuncs`` (it needs the
compiled Cython backend).
"""
from __future__ import annotations

import numpy as np

from . import _backends
from ._import_hooks import when_imported
from ._cython import _module as _kernels, check_available as _check_available
from ._registry import ACTIVATIONS, GATED_BY_NAME, gated_ufunc_units

_check_available()

_MODES = ("forward", "derivative", "backward")
_BIAS_MODES = ("forward", "backward")
_SIGNATURE = {
    "forward": "{name}(x{params})",
    "derivative": "{name}_derivative(x{params})",
    "backward": "{name}_backward(grad, x{params})",
    "bias forward": "{name}_bias(x, b{params})",
    "bias backward": "{name}_bias_backward(grad, x, b{params})",
}
_WHAT = {"forward": "f(x)", "derivative": "f'(x)", "backward": "grad * f'(x)",
         "bias forward": "f(x + b)", "bias backward": "grad * f'(x + b)"}


def _choice_note(entry, kernel_id) -> str:
    """Which string choices this kernel id stands for (gelu_tanh: approximate='tanh')."""
    chosen = [f"{p.name}={c!r}" for p in entry.params if p.choices
              for c in p.choices if f"{entry.name}_{c}" == kernel_id]
    return f" (fastact.{entry.name} with {', '.join(chosen)})" if chosen else ""


def _doc(entry, kernel_id, mode) -> str:
    numeric = [p.name for p in entry.params if p.choices is None]
    call = _SIGNATURE[mode].format(name=kernel_id, params="".join(", " + n for n in numeric))
    return (
        f"{call}: {_WHAT[mode]} of {entry.name}{_choice_note(entry, kernel_id)}.\n\n"
        f"{entry.summary}\n\n    {entry.formula}\n\n"
        f"Derivative: {entry.derivative_formula}\n"
    )


def _gated_doc(spec, name) -> str:
    note = f" (fastact.{spec.name} with approximate='tanh')" if name != spec.name else ""
    return (f"{name}({spec.first}, {spec.second}): {spec.summary}{note}\n\n    {spec.formula}\n\n"
            f"The two-array form of fastact.{spec.name}: the operands broadcast together.\n")


def _name(kernel_id, mode) -> str:
    """The ufunc's name: <id>, <id>_<mode>, and for the bias modes <id>_bias[_backward]."""
    name = kernel_id + ("_bias" if mode.startswith("bias ") else "")
    mode = mode.removeprefix("bias ")
    return name if mode == "forward" else f"{name}_{mode}"


def _build() -> dict:
    ufuncs = {}
    for entry in ACTIVATIONS:
        for kernel_id in entry.kernel_ids():
            for mode in _MODES:
                name = _name(kernel_id, mode)
                ufuncs[name] = _kernels.make_ufunc(kernel_id, mode, name,
                                                   _doc(entry, kernel_id, mode))
            for mode in _BIAS_MODES:
                name = _name(kernel_id, "bias " + mode)
                ufuncs[name] = _kernels.make_bias_ufunc(
                    kernel_id, mode, name, _doc(entry, kernel_id, "bias " + mode))
    for name, _, _ in gated_ufunc_units():
        ufuncs[name] = _kernels.make_gated_ufunc(
            name, _gated_doc(GATED_BY_NAME[name.split("_")[0]], name))
    return ufuncs


UFUNCS: dict = _build()
_GATED_NAMES = frozenset(name for name, _, _ in gated_ufunc_units())
globals().update(UFUNCS)
__all__ = sorted(UFUNCS)


def ufunc_for(kernel_id: str, mode: str):
    """The ufunc computing ``kernel_id`` in ``mode`` ("forward", "derivative", "backward",
    "bias forward", "bias backward")."""
    return UFUNCS[_name(kernel_id, mode)]


def _register_bfloat16(ml_dtypes) -> None:
    """bfloat16 loops (computed in float32, rounded once) on every ufunc: its leading
    array operands ([grad,] x [, b]; a gated unit's two) and result in bfloat16."""
    typenum = np.dtype(ml_dtypes.bfloat16).num
    for name, ufunc in UFUNCS.items():
        lead = 2 if name in _GATED_NAMES else (
            1 + name.endswith("_backward") + ("_bias" in name))
        _kernels.register_bfloat16(ufunc, typenum, lead)


when_imported("ml_dtypes", _register_bfloat16)
_kernels._set_ufunc_threads(_backends.num_threads)
_backends._thread_listeners.append(_kernels._set_ufunc_threads)
