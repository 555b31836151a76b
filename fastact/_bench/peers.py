"""What users would run instead of fastact: the peers measured side by side.

* ``torch``: PyTorch's CPU kernels, called through ``torch.ops.aten`` with their
  ``out=``/``grad_input=`` overload (no allocation, like fastact's ``out=``),
  backward passes through the ``*_backward`` kernels autograd itself uses
  (``sigmoid_backward(grad, y)``, ``gelu_backward(grad, x, approximate=)``,
  ``threshold_backward`` for relu, ...).  Where PyTorch has no fused kernel
  the peer is the composite a user would write (noted as such); where the
  kernel has no out variant (``mish_backward``) the allocating call is timed
  and noted.
* ``numexpr``: one multi-threaded expression per function where numexpr can
  express it (no ``erf``, so no exact GELU), written into ``out=``.
* ``numpy-expr``: the same expression evaluated by plain NumPy, the naive
  code a NumPy user writes (allocates temporaries); for the softmax family
  the usual ``exp(x - max) / sum`` and friends.
* ``scipy``: ``scipy.special.expit``/``log_expit`` (ufuncs with ``out=``),
  ``x * ndtr(x)`` for GELU, ``softmax``/``log_softmax``/``logsumexp``
  (allocating: SciPy has no ``out=`` there).
* ``onnxruntime``: a one-node ONNX model per op and dtype, run with IO binding
  into the output buffer (:mod:`fastact._bench.peers_onnx`; needs ``onnx`` too).
* ``jax``: ``jax.nn`` functions jitted on the CPU, backward by ``jax.vjp``
  (:mod:`fastact._bench.peers_jax`).

Each peer is a :class:`Peer` attached to its :class:`~fastact._bench.cases.Case`
by :func:`attach`, so the CLI and the pytest-benchmark suite share one table.
"""
from __future__ import annotations

import dataclasses
import functools
import importlib
import importlib.util
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .._registry import GELU_TANH_K, SELU_ALPHA, SELU_SCALE
from . import peers_jax, peers_onnx

LIBRARIES = ("torch", "numexpr", "scipy", "onnxruntime", "jax", "numpy-expr")
REQUIRES = {"onnxruntime": ("onnx",)}  # modules a peer needs besides its own
PIP_PACKAGES = {"onnxruntime": "onnxruntime onnx", "numpy-expr": "numpy"}  # else the library name


def install_command(libraries) -> str:
    """The pip command that installs the peer ``libraries``."""
    return "pip install " + " ".join(PIP_PACKAGES.get(lib, lib) for lib in libraries)


class Unsupported(RuntimeError):
    """The peer library has no kernel for this op at this dtype: the peer is absent, not broken."""


@dataclass(frozen=True)
class Peer:
    """One peer implementation of a case.

    ``make(bufs, allocate) -> (fn, allocates)``: ``fn`` is a zero-argument
    callable returning the result; ``allocates`` says whether it allocates
    its result (True when asked to, or when the library has no ``out=``).
    """

    library: str
    make: Callable
    note: str = ""


# ------------------------------------------------------------------ libraries
def library_version(library: str):
    """The version of ``library`` if it is importable here, else None (without importing it)."""
    module = {"numpy-expr": "numpy"}.get(library, library)
    if any(importlib.util.find_spec(m) is None for m in (module, *REQUIRES.get(library, ()))):
        return None
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:  # pragma: no cover - importable but without metadata
        return "unknown"


def available_libraries(requested=None) -> list:
    """The peer libraries installed here, among ``requested`` (default: all)."""
    wanted = LIBRARIES if requested is None else requested
    return [lib for lib in wanted if library_version(lib) is not None]


def import_first(libraries) -> None:
    """Import the peers that bring GNU OpenMP before fastact's kernels load it: PyTorch's
    wheel ships libgomp.so.1, the soname the Cython extension links, and a process keeps
    the first one loaded, with the wait policy it was loaded with.  Imported first, PyTorch
    runs with its own (what its users have), not the one fastact would choose
    (fastact._openmp_policy; fastact's kernels run on their own pool either way).  The CLI
    calls it first thing: parsing the bench's settings already loads the kernels."""
    if "torch" in libraries:
        import torch  # noqa: F401


def set_threads(n: int, libraries) -> dict:
    """Give every threaded peer ``n`` threads (as fastact); returns what was set."""
    done = {}
    if "torch" in libraries:
        import torch

        torch.set_num_threads(n)
        done["torch"] = torch.get_num_threads()
    if "numexpr" in libraries:
        import numexpr

        numexpr.set_num_threads(n)
        done["numexpr"] = n
    if "onnxruntime" in libraries:
        peers_onnx.THREADS["n"] = n
        done["onnxruntime"] = n
    return done


# ---------------------------------------------------------------------- torch
def _tensors(bufs):
    import torch

    t = {"p": bufs.params, "out": torch.from_numpy(bufs.out)}
    for name in ("x", "grad", "y"):
        value = getattr(bufs, name)
        if value is not None:
            t[name] = torch.from_numpy(value)
    t["dtype"] = t["x"].dtype
    return t


def _param(name):
    return lambda t: t["p"][name]


def _aten(op, *args, overload="out", out_kw=None, **kwargs):
    """A torch peer ``torch.ops.aten.<op>.<overload>(*args, **kwargs, <out>=out)``.

    ``args``: tensor names ("x", "grad", "y"), callables of the tensor dict
    (parameters, derived values) or constants.  ``overload=None``: the kernel
    has no out variant, the allocating call is timed.
    """

    def make(bufs, allocate):
        import torch

        t = _tensors(bufs)
        packet = getattr(torch.ops.aten, op)
        values = [t[a] if isinstance(a, str) else a(t) if callable(a) else a for a in args]
        if allocate or overload is None:
            return functools.partial(packet.default, *values, **kwargs), True
        return functools.partial(getattr(packet, overload), *values, **kwargs,
                                 **{out_kw or overload: t["out"]}), False

    return make


def _torch_composite(build):
    """A torch peer built from several ops: ``build(t, out_or_None) -> fn``."""

    def make(bufs, allocate):
        t = _tensors(bufs)
        return build(t, None if allocate else t["out"]), allocate

    return make


def _swish_forward(t, out):
    import torch

    beta = t["p"]["beta"]
    if beta == 1.0:
        return functools.partial(torch.nn.functional.silu, t["x"]) if out is None else (
            functools.partial(torch.ops.aten.silu.out, t["x"], out=out))
    return lambda: torch.mul(t["x"], torch.sigmoid(t["x"] * beta), out=out)


def _swish_backward(t, out):
    import torch

    beta = t["p"]["beta"]
    if beta == 1.0:
        return lambda: torch.ops.aten.silu_backward(t["grad"], t["x"]) if out is None else (
            torch.ops.aten.silu_backward.grad_input(t["grad"], t["x"], grad_input=out))
    return lambda: torch.mul(t["grad"], _swish_d(t["x"], beta), out=out)


def _swish_d(x, beta):
    import torch

    s = torch.sigmoid(x * beta)
    return s * (1 + beta * x * (1 - s))


def _logsigmoid_backward(bufs, allocate):
    import torch

    t = _tensors(bufs)
    _, buffer = torch.ops.aten.log_sigmoid_forward(t["x"])  # saved by autograd's forward
    packet = torch.ops.aten.log_sigmoid_backward
    if allocate:
        return functools.partial(packet.default, t["grad"], t["x"], buffer), True
    return functools.partial(packet.grad_input, t["grad"], t["x"], buffer, grad_input=t["out"]), False


_A = _param
_SELU = (SELU_ALPHA, SELU_SCALE)
_COMPOSITE = "composite of PyTorch ops (no fused kernel)"


def _elu_backward(src, alpha, scale, inscale):
    """aten.elu_backward from the input (src "x") or from the output (src "y")."""
    return _aten("elu_backward", "grad", alpha, scale, inscale, src == "y", src,
                 overload="grad_input")


def _copy_of(name):
    """(make, note) of a plain copy of the buffer ``name`` (identity and its gradient)."""
    return (_torch_composite(
        lambda t, o: (lambda: t[name].clone()) if o is None else functools.partial(o.copy_, t[name])),
        "copy")


def _relu_backward(src):
    return _aten("threshold_backward", "grad", src, 0.0, overload="grad_input"), ""


def _leaky_relu_backward(src):
    return _aten("leaky_relu_backward", "grad", src, _A("negative_slope"), src == "y",
                 overload="grad_input"), ""

# (kernel id or row op, mode) -> (make, note)
TORCH: dict = {
    ("identity", "forward"): _copy_of("x"),
    ("relu", "forward"): (_aten("relu", "x"), ""),
    ("leaky_relu", "forward"): (_aten("leaky_relu", "x", _A("negative_slope")), ""),
    ("sigmoid", "forward"): (_aten("sigmoid", "x"), ""),
    ("tanh", "forward"): (_aten("tanh", "x"), ""),
    ("gelu", "forward"): (_aten("gelu", "x", approximate="none"), ""),
    ("gelu_tanh", "forward"): (_aten("gelu", "x", approximate="tanh"), ""),
    ("silu", "forward"): (_aten("silu", "x"), ""),
    ("swish", "forward"): (_torch_composite(_swish_forward), "silu when beta=1, else composite"),
    ("elu", "forward"): (_aten("elu", "x", _A("alpha"), 1.0, 1.0), ""),
    ("selu", "forward"): (_aten("elu", "x", *_SELU, 1.0), "elu kernel with SELU constants"),
    ("celu", "forward"): (_aten("elu", "x", _A("alpha"), 1.0, lambda t: 1.0 / t["p"]["alpha"]), ""),
    ("softplus", "forward"): (_aten("softplus", "x", _A("beta"), _A("threshold")), ""),
    ("mish", "forward"): (_aten("mish", "x"), ""),
    ("hardsigmoid", "forward"): (_aten("hardsigmoid", "x"), ""),
    ("hardswish", "forward"): (_aten("hardswish", "x"), ""),
    ("hardtanh", "forward"): (_aten("hardtanh", "x", _A("min_val"), _A("max_val")), ""),
    ("relu6", "forward"): (_aten("hardtanh", "x", 0.0, 6.0), "hardtanh kernel"),
    ("logsigmoid", "forward"): (_aten("log_sigmoid", "x"), ""),
    ("softsign", "forward"): (_torch_composite(
        lambda t, o: lambda: torch_div(t["x"], t["x"].abs().add_(1), o)), _COMPOSITE),
    ("tanhshrink", "forward"): (_torch_composite(
        lambda t, o: lambda: torch_sub(t["x"], t["x"].tanh(), o)), _COMPOSITE),
    ("threshold", "forward"): (_aten("threshold", "x", _A("threshold"), _A("value")), ""),
    ("hardshrink", "forward"): (_aten("hardshrink", "x", _A("lambd")), ""),
    ("softshrink", "forward"): (_aten("softshrink", "x", _A("lambd")), ""),
    # backward from x: the kernels autograd uses
    ("identity", "backward"): _copy_of("grad"),
    ("relu", "backward"): _relu_backward("x"),
    ("leaky_relu", "backward"): _leaky_relu_backward("x"),
    ("sigmoid", "backward"): (_torch_composite(lambda t, o: lambda: torch_mul(
        t["grad"], _sigmoid_d(t["x"]), o)), _COMPOSITE),
    ("tanh", "backward"): (_torch_composite(lambda t, o: lambda: torch_mul(
        t["grad"], 1 - t["x"].tanh().square_(), o)), _COMPOSITE),
    ("gelu", "backward"): (_aten("gelu_backward", "grad", "x", approximate="none",
                                 overload="grad_input"), ""),
    ("gelu_tanh", "backward"): (_aten("gelu_backward", "grad", "x", approximate="tanh",
                                      overload="grad_input"), ""),
    ("silu", "backward"): (_aten("silu_backward", "grad", "x", overload="grad_input"), ""),
    ("swish", "backward"): (_torch_composite(_swish_backward), "silu_backward when beta=1"),
    ("elu", "backward"): (_elu_backward("x", _A("alpha"), 1.0, 1.0), ""),
    ("selu", "backward"): (_elu_backward("x", *_SELU, 1.0), "elu_backward with SELU constants"),
    ("celu", "backward"): (_elu_backward("x", _A("alpha"), 1.0, lambda t: 1.0 / t["p"]["alpha"]), ""),
    ("softplus", "backward"): (_aten("softplus_backward", "grad", "x", _A("beta"), _A("threshold"),
                                     overload="grad_input"), ""),
    ("mish", "backward"): (_aten("mish_backward", "grad", "x", overload=None),
                           "no out= variant: allocates"),
    ("hardsigmoid", "backward"): (_aten("hardsigmoid_backward", "grad", "x",
                                        overload="grad_input"), ""),
    ("hardswish", "backward"): (_aten("hardswish_backward", "grad", "x"), ""),
    ("hardtanh", "backward"): (_aten("hardtanh_backward", "grad", "x", _A("min_val"), _A("max_val"),
                                     overload="grad_input"), ""),
    ("relu6", "backward"): (_aten("hardtanh_backward", "grad", "x", 0.0, 6.0,
                                  overload="grad_input"), ""),
    ("logsigmoid", "backward"): (_logsigmoid_backward, "buffer from log_sigmoid_forward"),
    ("softsign", "backward"): (_torch_composite(lambda t, o: lambda: torch_div(
        t["grad"], t["x"].abs().add_(1).square_(), o)), _COMPOSITE),
    ("tanhshrink", "backward"): (_torch_composite(lambda t, o: lambda: torch_mul(
        t["grad"], t["x"].tanh().square_(), o)), _COMPOSITE),
    ("threshold", "backward"): (_aten("threshold_backward", "grad", "x", _A("threshold"),
                                      overload="grad_input"), ""),
    ("hardshrink", "backward"): (_aten("hardshrink_backward", "grad", "x", _A("lambd"),
                                       overload="grad_input"), ""),
    ("softshrink", "backward"): (_aten("softshrink_backward", "grad", "x", _A("lambd"),
                                       overload="grad_input"), ""),
    # backward from the output y, where PyTorch has the kernel
    ("identity", "backward_y"): _copy_of("grad"),
    ("relu", "backward_y"): _relu_backward("y"),
    ("leaky_relu", "backward_y"): _leaky_relu_backward("y"),
    ("sigmoid", "backward_y"): (_aten("sigmoid_backward", "grad", "y", overload="grad_input"), ""),
    ("tanh", "backward_y"): (_aten("tanh_backward", "grad", "y", overload="grad_input"), ""),
    ("elu", "backward_y"): (_elu_backward("y", _A("alpha"), 1.0, 1.0), ""),
    ("selu", "backward_y"): (_elu_backward("y", *_SELU, 1.0), "elu_backward with SELU constants"),
    ("celu", "backward_y"): (_elu_backward("y", _A("alpha"), 1.0, lambda t: 1.0 / t["p"]["alpha"]), ""),
    ("hardtanh", "backward_y"): (_aten("hardtanh_backward", "grad", "y", _A("min_val"),
                                       _A("max_val"), overload="grad_input"), ""),
    ("relu6", "backward_y"): (_aten("hardtanh_backward", "grad", "y", 0.0, 6.0,
                                    overload="grad_input"), ""),
    ("hardshrink", "backward_y"): (_aten("hardshrink_backward", "grad", "y", _A("lambd"),
                                         overload="grad_input"), ""),
    # softmax family along the last axis
    ("softmax", "forward"): (_aten("_softmax", "x", -1, False), ""),
    ("log_softmax", "forward"): (_aten("_log_softmax", "x", -1, False), ""),
    ("softmin", "forward"): (_torch_composite(lambda t, o: lambda: torch_softmax(-t["x"], o)),
                             "softmax of -x"),
    ("logsumexp", "forward"): (_aten("logsumexp", "x", [-1], False), ""),
    ("softmax_backward", "backward"): (_aten(
        "_softmax_backward_data", "grad", "y", -1, lambda t: t["dtype"], out_kw="grad_input"), ""),
    ("log_softmax_backward", "backward"): (_aten(
        "_log_softmax_backward_data", "grad", "y", -1, lambda t: t["dtype"]), ""),
}


def _torch_loss(name, backward):
    """PyTorch's F.<name>: the loss, or (backward) the loss then autograd's gradient,
    allocating as a training step does."""

    def make(bufs, allocate):
        import torch

        fn = getattr(torch.nn.functional, name)
        x = torch.from_numpy(bufs.x)
        target = torch.from_numpy(bufs.y)
        if not backward:
            return functools.partial(fn, x, target), True
        x = x.clone().requires_grad_()

        def step():
            x.grad = None
            fn(x, target).backward()
            return x.grad

        return step, True

    return make


_LOSS_PEERS = {
    (loss, mode): (_torch_loss(loss, mode == "backward"),
                   "F.%s%s" % (loss, " + autograd backward" if mode == "backward" else ""))
    for loss in ("cross_entropy", "binary_cross_entropy_with_logits")
    for mode in ("forward", "backward")
}


def _sigmoid_d(x):
    s = x.sigmoid()
    return s * (1 - s)


def torch_mul(a, b, out):
    import torch

    return torch.mul(a, b, out=out) if out is not None else torch.mul(a, b)


def torch_div(a, b, out):
    import torch

    return torch.div(a, b, out=out) if out is not None else torch.div(a, b)


def torch_sub(a, b, out):
    import torch

    return torch.sub(a, b, out=out) if out is not None else torch.sub(a, b)


def torch_softmax(x, out):
    import torch

    if out is None:
        return torch.ops.aten._softmax(x, -1, False)
    return torch.ops.aten._softmax.out(x, -1, False, out=out)


# ----------------------------------------------------- numexpr and plain NumPy
# Expressions over x, grad, y, the case's parameters and CONSTANTS.  Float
# literals are avoided: numexpr would compute float32 input in float64.
CONSTANTS = {
    "c_gelu": math.sqrt(2.0 / math.pi),
    "k_gelu": GELU_TANH_K,
    "alpha_selu": SELU_ALPHA,
    "scale_selu": SELU_SCALE,
}
_HARDSIGMOID = "where(x <= -3, 0, where(x >= 3, 1, (x + 3) / 6))"
EXPRESSIONS: dict = {
    ("identity", "forward"): "x",
    ("relu", "forward"): "where(x > 0, x, 0)",
    ("leaky_relu", "forward"): "where(x > 0, x, negative_slope * x)",
    ("sigmoid", "forward"): "1 / (1 + exp(-x))",
    ("tanh", "forward"): "tanh(x)",
    ("gelu_tanh", "forward"): "x / 2 * (1 + tanh(c_gelu * (x + k_gelu * x * x * x)))",
    ("silu", "forward"): "x / (1 + exp(-x))",
    ("swish", "forward"): "x / (1 + exp(-beta * x))",
    ("elu", "forward"): "where(x > 0, x, alpha * expm1(x))",
    ("selu", "forward"): "scale_selu * where(x > 0, x, alpha_selu * expm1(x))",
    ("celu", "forward"): "where(x > 0, x, alpha * expm1(x / alpha))",
    ("softplus", "forward"): "where(beta * x > threshold, x, log1p(exp(beta * x)) / beta)",
    ("mish", "forward"): "x * tanh(log1p(exp(x)))",
    ("hardsigmoid", "forward"): _HARDSIGMOID,
    ("hardswish", "forward"): f"x * {_HARDSIGMOID}",
    ("hardtanh", "forward"): "where(x < min_val, min_val, where(x > max_val, max_val, x))",
    ("relu6", "forward"): "where(x < 0, 0, where(x > 6, 6, x))",
    ("logsigmoid", "forward"): "-log1p(exp(-x))",
    ("softsign", "forward"): "x / (1 + abs(x))",
    ("tanhshrink", "forward"): "x - tanh(x)",
    ("threshold", "forward"): "where(x > threshold, x, value)",
    ("hardshrink", "forward"): "where(abs(x) > lambd, x, 0)",
    ("softshrink", "forward"): "where(x > lambd, x - lambd, where(x < -lambd, x + lambd, 0))",
    ("relu", "backward"): "where(x > 0, grad, 0)",
    ("leaky_relu", "backward"): "where(x > 0, grad, negative_slope * grad)",
    ("sigmoid", "backward"): "grad * exp(-x) / ((1 + exp(-x)) * (1 + exp(-x)))",
    ("tanh", "backward"): "grad * (1 - tanh(x) * tanh(x))",
    ("silu", "backward"): "grad * (1 + exp(-x) + x * exp(-x)) / ((1 + exp(-x)) * (1 + exp(-x)))",
    ("elu", "backward"): "where(x > 0, grad, grad * alpha * exp(x))",
    ("hardtanh", "backward"): "where((x > min_val) & (x < max_val), grad, 0)",
    ("softsign", "backward"): "grad / ((1 + abs(x)) * (1 + abs(x)))",
    ("tanhshrink", "backward"): "grad * tanh(x) * tanh(x)",
    ("relu", "backward_y"): "where(y > 0, grad, 0)",
    ("sigmoid", "backward_y"): "grad * y * (1 - y)",
    ("tanh", "backward_y"): "grad * (1 - y * y)",
    ("elu", "backward_y"): "where(y > 0, grad, grad * (y + alpha))",
}

_NUMPY_FUNCS = {
    "where": np.where, "exp": np.exp, "expm1": np.expm1, "log1p": np.log1p,
    "tanh": np.tanh, "abs": np.abs, "__builtins__": {},
}


def _expr_locals(bufs, expr):
    scalar = bufs.x.dtype.type
    local = {k: scalar(v) for k, v in {**CONSTANTS, **bufs.params}.items()
             if not isinstance(v, str) and k in expr}
    for name in ("x", "grad", "y"):
        value = getattr(bufs, name)
        if value is not None:
            local[name] = value
    return local


def _numexpr(expr):
    def make(bufs, allocate):
        import numexpr

        local = _expr_locals(bufs, expr)
        if allocate:
            return functools.partial(numexpr.evaluate, expr, local_dict=local), True
        return functools.partial(numexpr.evaluate, expr, local_dict=local, out=bufs.out), False

    return make


def _numpy_expr(expr):
    code = compile(expr, f"<numpy-expr {expr}>", "eval")

    def make(bufs, allocate):
        local = _expr_locals(bufs, expr)
        return functools.partial(eval, code, _NUMPY_FUNCS, local), True  # noqa: S307 - our table

    return make


# The naive NumPy a user writes for the softmax family (last axis; allocates).
def _np_softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _np_log_softmax(x):
    z = x - x.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def _np_logsumexp(x):
    m = x.max(-1, keepdims=True)
    return (m + np.log(np.exp(x - m).sum(-1, keepdims=True)))[..., 0]


ROW_NUMPY: dict = {
    "softmax": (_np_softmax, "exp(x - max) / sum"),
    "softmin": (lambda x: _np_softmax(-x), "softmax of -x"),
    "log_softmax": (_np_log_softmax, "(x - max) - log(sum(exp(x - max)))"),
    "logsumexp": (_np_logsumexp, "max + log(sum(exp(x - max)))"),
    "softmax_backward": (lambda g, y: y * (g - (g * y).sum(-1, keepdims=True)),
                         "y * (g - sum(g * y))"),
    "log_softmax_backward": (lambda g, y: g - np.exp(y) * g.sum(-1, keepdims=True),
                             "g - exp(y) * sum(g)"),
}


def _numpy_rowwise(fn, backward):
    def make(bufs, allocate):
        args = (bufs.grad, bufs.y) if backward else (bufs.x,)
        return functools.partial(fn, *args), True

    return make


# ---------------------------------------------------------------------- scipy
def _scipy_ufunc(name):
    def make(bufs, allocate):
        import scipy.special

        fn = getattr(scipy.special, name)
        if allocate:
            return functools.partial(fn, bufs.x), True
        return functools.partial(fn, bufs.x, out=bufs.out), False

    return make


def _scipy_gelu(bufs, allocate):
    from scipy.special import ndtr

    x = bufs.x
    if allocate:
        return lambda: x * ndtr(x), True
    return lambda: np.multiply(x, ndtr(x), out=bufs.out), False


def _scipy_rowwise(name, negate=False):
    def make(bufs, allocate):
        import scipy.special

        fn = getattr(scipy.special, name)
        x = bufs.x
        if negate:
            return (lambda: fn(-x, axis=-1)), True
        return functools.partial(fn, x, axis=-1), True

    return make


SCIPY: dict = {
    ("sigmoid", "forward"): (_scipy_ufunc("expit"), "scipy.special.expit"),
    ("logsigmoid", "forward"): (_scipy_ufunc("log_expit"), "scipy.special.log_expit"),
    ("gelu", "forward"): (_scipy_gelu, "x * scipy.special.ndtr(x)"),
    ("softmax", "forward"): (_scipy_rowwise("softmax"), "no out=: allocates"),
    ("log_softmax", "forward"): (_scipy_rowwise("log_softmax"), "no out=: allocates"),
    ("softmin", "forward"): (_scipy_rowwise("softmax", negate=True), "softmax(-x), allocates"),
    ("logsumexp", "forward"): (_scipy_rowwise("logsumexp"), "no out=: allocates"),
}


# --------------------------------------------------------------- attach to cases
def peers_for(op: str, mode: str) -> tuple:
    """Every peer known for (kernel id or row op, mode), in LIBRARIES order."""
    found = []
    if (op, mode) in TORCH or (op, mode) in _LOSS_PEERS:
        make, note = TORCH.get((op, mode)) or _LOSS_PEERS[(op, mode)]
        found.append(Peer("torch", make, note))
    expr = EXPRESSIONS.get((op, mode))
    if expr is not None:
        found.append(Peer("numexpr", _numexpr(expr), expr))
        if not expr.isidentifier():  # NumPy would return the input itself, not a result
            found.append(Peer("numpy-expr", _numpy_expr(expr), expr))
    if op in ROW_NUMPY:
        fn, note = ROW_NUMPY[op]
        found.append(Peer("numpy-expr", _numpy_rowwise(fn, mode == "backward"), note))
    if (op, mode) in SCIPY:
        make, note = SCIPY[(op, mode)]
        found.append(Peer("scipy", make, note))
    for library, module in (("onnxruntime", peers_onnx), ("jax", peers_jax)):
        found += [Peer(library, make, note) for make, note in module.peers(op, mode)]
    return tuple(sorted(found, key=lambda p: LIBRARIES.index(p.library)))


def attach(case):
    """The case with its peers filled in."""
    return dataclasses.replace(case, peers=peers_for(case.op, case.mode))


def load(library: str):
    """Import a peer library (torch takes a second or two)."""
    return importlib.import_module({"numpy-expr": "numpy"}.get(library, library))
