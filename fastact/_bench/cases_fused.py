"""Benchmark cases of the fused operations: bias + activation and the GLU family.

On ``(size // FEATURES, FEATURES)`` arrays, a dense layer's shape:

* ``<id>_bias``: ``fastact.<name>(x, bias=b)`` (b per feature); peer: PyTorch's
  unfused ``x + b`` then the activation;
* ``<id>_bias_backward``: ``fastact.backward(name, grad, x, bias=b, bias_grad=True)``
  (dz and db); peer: PyTorch's ``x + b``, the activation's backward kernel, ``dz.sum(0)``;
* ``<unit>``: ``fastact.<unit>(gate, up)`` on two arrays; peer: ``F.silu(gate) * up``
  and its like, allocating as a user's code does; for glu PyTorch's fused ``F.glu``
  (on the two arrays joined once, outside the timing);
* ``<unit>_backward``: both gradients of a split input; peer: PyTorch's autograd
  kernels composed (``silu_backward(grad * up, gate)``, ``grad * silu(gate)``); for glu
  its fused ``glu_backward`` kernel.

The floor of each case is the run's roofline (a copy moving the same bytes: for a
unit's forward, the read-two-write-one pass), reported as ``roofline_ratio``.

Only a few activations get a bias case (the ones dense layers use); every GLU unit
does.
"""
from __future__ import annotations

import fnmatch
import functools
from dataclasses import dataclass

import numpy as np

from .._registry import BY_NAME, GATED
from .cases import Buffers, Case
from .peers import Peer

FEATURES = 4096  # the bias length and the gated units' width
BIAS_ACTIVATIONS = ("gelu", "gelu_tanh", "silu", "relu", "quick_gelu")
_TORCH_ACT = {"gelu": "gelu", "silu": "silu", "relu": "relu", "sigmoid": "sigmoid"}


@dataclass
class FusedBuffers(Buffers):
    """Buffers of a fused case: ``other`` is the bias, or ``up`` of a gated unit."""

    other: object = None


@dataclass(frozen=True)
class FusedCase(Case):
    """A bias + activation case (kind "bias") or a gated unit (kind "gated")."""

    def shape(self, size: int) -> tuple:
        rows = max(1, size // FEATURES)
        if self.kind == "gated" and self.mode == "backward":
            return (rows, 2 * FEATURES)  # the split input x
        return (rows, FEATURES)

    def out_shape(self, size: int) -> tuple:
        return self.shape(size)

    def nbytes(self, size: int, dtype) -> int:
        """Bytes one pass moves: inputs read once, outputs written once (bias and db aside)."""
        n = int(np.prod(self.shape(size)))
        arrays = {("bias", "forward"): 2, ("bias", "backward"): 3,
                  ("gated", "forward"): 3, ("gated", "backward"): 2.5}[(self.kind, self.mode)]
        return int(np.dtype(dtype).itemsize * n * arrays)

    def fastact_call(self, backend: str, bufs: Buffers, allocate: bool = False):
        import fastact

        kw = dict(backend=backend, **({} if allocate else {"out": bufs.out}))
        if self.kind == "bias":
            if self.mode == "forward":
                return functools.partial(getattr(fastact, self.activation), bufs.x,
                                         bias=bufs.other, **self.kwargs, **kw)
            call = functools.partial(fastact.backward, self.activation, bufs.grad, bufs.x,
                                     bias=bufs.other, bias_grad=True, **self.kwargs, **kw)
            return lambda: call()[0]
        if self.mode == "forward":
            return functools.partial(getattr(fastact, self.activation), bufs.x, bufs.other,
                                     **self.kwargs, **kw)
        return functools.partial(getattr(fastact, f"{self.activation}_backward"), bufs.grad,
                                 bufs.x, **self.kwargs, **kw)

    def make_buffers(self, dtype, size: int, pool) -> FusedBuffers:
        shape = self.shape(size)
        n = int(np.prod(shape))
        x, grad = pool.get(dtype, 2 * n)
        rows = shape[0]
        if self.kind == "bias":
            other = x[n:n + FEATURES].copy()
            grad = grad[:n].reshape(shape)
        elif self.mode == "forward":
            other = x[n:2 * n].reshape(shape)
            grad = grad[:n].reshape(shape)
        else:
            other, grad = None, grad[: n // 2].reshape(rows, FEATURES)
        out = np.zeros(self.out_shape(size), dtype=dtype)  # pages touched now
        return FusedBuffers(x=x[:n].reshape(shape), grad=grad, y=None, out=out,
                            params=self.kwargs, other=other)

    def slice_buffers(self, bufs: FusedBuffers, elements: int) -> FusedBuffers:
        rows = max(1, elements // bufs.x.shape[-1])
        other = bufs.other if self.kind == "bias" or bufs.other is None else bufs.other[:rows]
        return FusedBuffers(x=bufs.x[:rows], grad=bufs.grad[:rows], y=None, out=bufs.out[:rows],
                            params=bufs.params, other=other)

    def matches(self, token: str) -> bool:
        """Selected by its own name or kernel label (``gelu_bias``, ``swiglu``), or a pattern."""
        return token in (self.name, self.op) or fnmatch.fnmatchcase(self.name, token)

    def reference(self, bufs):
        return np.asarray(self.fastact_call("numpy", bufs, allocate=True)())


# ---------------------------------------------------------------- torch peers
def _torch(bufs):
    import torch

    return torch, {k: (torch.from_numpy(v) if isinstance(v, np.ndarray) else v)
                   for k, v in vars(bufs).items()}


def _torch_bias(kernel_id, mode):
    def make(bufs, allocate):
        torch, t = _torch(bufs)
        aten = torch.ops.aten
        approximate = "tanh" if kernel_id == "gelu_tanh" else "none"
        kw = {"approximate": approximate} if kernel_id.startswith("gelu") else {}
        act = kernel_id.split("_")[0]  # gelu_tanh: gelu with approximate="tanh"
        if mode == "forward":
            return (lambda: getattr(aten, act)(t["x"] + t["other"], **kw)), True
        backward = {"gelu": lambda g, z: aten.gelu_backward(g, z, **kw),
                    "silu": aten.silu_backward,
                    "relu": lambda g, z: aten.threshold_backward(g, z, 0)}[act]

        def run():
            dz = backward(t["grad"], t["x"] + t["other"])
            dz.sum(0)  # db
            return dz
        return run, True

    return make


def _torch_gated(unit, mode, approximate):
    def make(bufs, allocate):
        torch, t = _torch(bufs)
        F, aten = torch.nn.functional, torch.ops.aten
        if unit == "glu" and mode == "forward":  # F.glu on the halves joined (not timed)
            joined = torch.cat((t["x"], t["other"]), dim=-1)
            return (lambda: F.glu(joined, dim=-1)), True
        if unit == "glu":
            return (lambda: aten.glu_backward(t["grad"], t["x"], -1)), True
        act = {"swiglu": F.silu, "reglu": F.relu,
               "geglu": lambda v: F.gelu(v, approximate=approximate)}[unit]
        if mode == "forward":
            return (lambda: act(t["x"]) * t["other"]), True
        d_act = {"swiglu": aten.silu_backward,
                 "reglu": lambda g, v: aten.threshold_backward(g, v, 0),
                 "geglu": lambda g, v: aten.gelu_backward(g, v, approximate=approximate)}[unit]

        def run():  # autograd joins the halves' gradients into x's, as here
            gate, up = t["x"].chunk(2, dim=-1)
            d_gate, d_up = d_act(t["grad"] * up, gate), t["grad"] * act(gate)
            return torch.cat((d_gate, d_up), dim=-1)
        return run, True

    return make


_UNFUSED = "PyTorch's unfused sequence (allocating)"
_FUSED = "PyTorch's fused op (F.glu, its glu_backward kernel; allocating)"


def fused_cases():
    """The bias + activation and gated-unit cases, peers attached."""
    for kernel_id in BIAS_ACTIVATIONS:
        name = "gelu" if kernel_id.startswith("gelu") else kernel_id
        params = BY_NAME[name].params_selecting(kernel_id)
        for mode, suffix in (("forward", "_bias"), ("backward", "_bias_backward")):
            peers = ((Peer("torch", _torch_bias(kernel_id, mode), _UNFUSED),)
                     if kernel_id != "quick_gelu" else ())
            yield FusedCase(kernel_id + suffix, name, "bias", mode, kernel_id + "_bias",
                            tuple(params.items()), peers=peers)
    for unit in GATED:
        variants = ("none", "tanh") if unit.name == "geglu" else ("none",)
        for approximate in variants:
            params = (("approximate", approximate),) if approximate != "none" else ()
            label = unit.name + ("_tanh" if approximate != "none" else "")
            for mode, suffix in (("forward", ""), ("backward", "_backward")):
                peer = Peer("torch", _torch_gated(unit.name, mode, approximate),
                            _FUSED if unit.name == "glu" else _UNFUSED)
                yield FusedCase(label + suffix, unit.name, "gated", mode, label, params,
                                peers=(peer,))
