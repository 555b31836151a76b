"""The ONE benchmark case table, generated from the registry.

Every kernel id of the registry (``all_kernel_ids()``) gives three cases at
most: the forward pass (``"gelu_tanh"``), the fused backward from the input
(``"gelu_tanh_backward"``: grad * f'(x)) and, where f' is a function of the
output for the default parameters, the backward from the output
(``"sigmoid_backward_y"``: grad * f'(y)).  Every op of ``ROW_OPS`` (the
softmax family) gives one case, run along the last axis of a
``(size // 1000, 1000)`` array, or of the exact ``(rows, n)`` shape given by
``row_length`` (``fastact bench --shapes 4096x2048,256x50257``).  The losses
give a forward case (the loss alone) and a backward case (loss and gradient,
``return_grad=True``): ``cross_entropy`` on rows like the softmax family,
``binary_cross_entropy_with_logits`` on a flat array.

A :class:`Case` knows the bytes it must move (inputs read + output written,
the numerator of GB/s and of the roofline ratio), how to call fastact with a
given backend, and its peers (PyTorch, numexpr, SciPy, plain NumPy
expressions; see :mod:`fastact._bench.peers`).  Both ``fastact bench`` and the
pytest-benchmark suite in ``bench/`` iterate over :func:`build_cases`, so they
always measure the same things.
"""
from __future__ import annotations

import fnmatch
import functools
from dataclasses import dataclass, field

import numpy as np

from .._registry import ACTIVATIONS, ROW_OPS

ROW_LENGTH = 1000  # softmax-family cases work on rows of this many elements
LOSSES = ("cross_entropy", "binary_cross_entropy_with_logits")
SEED = 20260101
INPUT_SCALE = 3.0  # inputs ~ N(0, 3**2): both sides of every kink, tails of exp


@dataclass(frozen=True)
class Case:
    """One thing to time: a forward or backward kernel, or a softmax-family op."""

    name: str  # "gelu_tanh_backward": the table row and the pytest-benchmark group
    activation: str  # registry name ("gelu") or row op base name ("softmax")
    kind: str  # "elementwise", "rowwise" or "loss"
    mode: str  # "forward", "backward" (from x) or "backward_y" (from y)
    op: str  # kernel id ("gelu_tanh") or row op name ("softmax_backward")
    params: tuple = ()  # ((name, value), ...) passed to fastact
    peers: tuple = field(default=(), compare=False)  # filled by peers.attach
    row_length: int = field(default=0, compare=False)  # exact (size // n, n) rows (0: default)

    # ---------------------------------------------------------------- facts
    @property
    def kwargs(self) -> dict:
        return dict(self.params)

    @property
    def rows_shaped(self) -> bool:
        """Works on (rows, n) rows: the softmax family and cross-entropy."""
        return self.kind == "rowwise" or self.op == "cross_entropy"

    @property
    def reads(self) -> tuple:
        """Names of the arrays the kernel reads (a class-index target: not counted)."""
        if self.kind == "loss":
            return ("x",) if self.op == "cross_entropy" else ("x", "y")
        if self.mode == "forward":
            return ("x",)
        return ("grad", "y") if self.mode == "backward_y" or self.kind == "rowwise" else ("grad", "x")

    @property
    def reduces(self) -> bool:
        return self.op == "logsumexp"

    def shape(self, size: int) -> tuple:
        if self.rows_shaped:
            cols = self.row_length or min(size, ROW_LENGTH)
            return (max(1, size // cols), cols)
        return (size,)

    def out_shape(self, size: int) -> tuple:
        shape = self.shape(size)
        if self.kind == "loss":
            return shape if self.mode == "backward" else ()
        return shape[:-1] if self.reduces else shape

    def nbytes(self, size: int, dtype) -> int:
        """Bytes a single pass must move: every input read once, the output written once."""
        itemsize = np.dtype(dtype).itemsize
        n = int(np.prod(self.shape(size)))
        return itemsize * (n * len(self.reads) + int(np.prod(self.out_shape(size))))

    def matches(self, token: str) -> bool:
        """True when a ``--functions`` token selects this case.

        A token matches the case name (``gelu_tanh_backward``), the kernel id
        (``gelu_tanh``: forward and backward), the activation (``gelu``: both
        kernels, both passes), or is a shell pattern (``*_backward_y``).
        """
        return (
            token in (self.name, self.op, self.activation)
            or fnmatch.fnmatchcase(self.name, token)
        )

    # ---------------------------------------------------------------- calls
    def fastact_call(self, backend: str, bufs: "Buffers", allocate: bool = False):
        """A zero-argument callable running this case with fastact's ``backend``."""
        import fastact

        kw = dict(backend=backend, **({} if allocate else {"out": bufs.out}))
        if self.kind == "loss":
            fn = getattr(fastact, self.op)
            if self.mode == "forward":
                return functools.partial(fn, bufs.x, bufs.y, backend=backend)
            return functools.partial(_gradient_of, fn, bufs.x, bufs.y, kw)
        if self.kind == "rowwise":
            fn = getattr(fastact, self.op)
            if self.mode == "forward":
                return functools.partial(fn, bufs.x, -1, **kw)
            return functools.partial(fn, bufs.grad, bufs.y, -1, **kw)
        if self.mode == "forward":
            return functools.partial(getattr(fastact, self.activation), bufs.x, **self.kwargs, **kw)
        if self.mode == "backward":
            return functools.partial(
                fastact.backward, self.activation, bufs.grad, bufs.x, **self.kwargs, **kw
            )
        return functools.partial(
            fastact.backward, self.activation, bufs.grad, y=bufs.y, **self.kwargs, **kw
        )

    def make_buffers(self, dtype, size: int, pool: "InputPool") -> "Buffers":
        """Inputs (shared across cases of one dtype and size) and a fresh output."""
        x, grad = pool.get(dtype, size)
        shape = self.shape(size)
        n = int(np.prod(shape))
        x, grad = x[:n].reshape(shape), grad[:n].reshape(shape)
        y = None
        if self.kind == "loss":
            y = loss_target(self.op, x)
        elif self.mode == "backward_y" or (self.kind == "rowwise" and self.mode == "backward"):
            y = self.forward_output(x)
        out = np.empty(self.out_shape(size), dtype=dtype)
        out.fill(0)  # touch the pages now, not inside the first timed call
        return Buffers(x=x, grad=grad, y=y, out=out, params=self.kwargs)

    def slice_buffers(self, bufs: "Buffers", elements: int) -> "Buffers":
        """The first ``elements`` elements of ``bufs`` (whole rows for the softmax family)."""
        rows = max(1, elements // bufs.x.shape[-1]) if self.rows_shaped else elements

        def cut(a):  # a reduced loss's 0-d out stays whole
            return None if a is None or a.ndim == 0 else a[:rows]

        return Buffers(x=cut(bufs.x), grad=cut(bufs.grad), y=cut(bufs.y), out=cut(bufs.out),
                       params=bufs.params)

    def compute_floor_call(self, backend: str, bufs: "Buffers", elements: int):
        """A callable running this case's ``backend`` kernel on the first ``elements`` of its
        arrays (cache-resident) once per such slice of the whole input: the arithmetic of the
        full call without its memory traffic (plus one launch per slice)."""
        part = self.fastact_call(backend, self.slice_buffers(bufs, elements))
        calls = -(-bufs.x.size // elements)

        def run():
            for _ in range(calls):
                part()

        return run

    def forward_output(self, x):
        """y = f(x) for the backward-from-output cases (fastest backend, untimed)."""
        import fastact

        if self.kind == "rowwise":
            fn, kwargs = getattr(fastact, self.op.replace("_backward", "")), {"axis": -1}
        else:
            fn, kwargs = getattr(fastact, self.activation), self.kwargs
        try:
            return fn(x, **kwargs)
        except Exception:  # the default backend is incomplete here: use the reference
            return fn(x, **kwargs, backend="numpy")

    def reference(self, bufs: "Buffers"):
        """The result of fastact's NumPy reference backend (the correctness yardstick)."""
        return np.asarray(self.fastact_call("numpy", bufs, allocate=True)())


def _gradient_of(fn, x, target, kw):
    """The gradient a loss returns with ``return_grad=True`` (the case's result)."""
    return fn(x, target, return_grad=True, **kw)[1]


def loss_target(op, x):
    """A target for the loss ``op`` on logits x: class indices per row (cross-entropy)
    or labels 0/1 in x's dtype (BCE), from a fixed seed."""
    rng = np.random.default_rng(SEED + 1)
    if op == "cross_entropy":
        return rng.integers(0, x.shape[-1], x.shape[:-1])
    return (rng.random(x.shape) < 0.5).astype(x.dtype)


@dataclass
class Buffers:
    """The arrays of one case at one dtype and size (``y`` only for backward-from-output)."""

    x: np.ndarray
    grad: np.ndarray
    y: object
    out: np.ndarray
    params: dict


class InputPool:
    """Random inputs per (dtype, size), generated once and shared by every case."""

    def __init__(self, seed: int = SEED):
        self.seed = seed
        self._arrays: dict = {}

    def get(self, dtype, size: int):
        key = (np.dtype(dtype).name, int(size))
        if key not in self._arrays:
            rng = np.random.default_rng(self.seed)
            x = (rng.standard_normal(size, dtype=np.float64) * INPUT_SCALE).astype(dtype)
            grad = rng.standard_normal(size, dtype=np.float64).astype(dtype)
            self._arrays[key] = (x, grad)
        return self._arrays[key]

    def clear(self):
        self._arrays.clear()


# ------------------------------------------------------------------ the table
def _registry_cases():
    for entry in ACTIVATIONS:
        for kernel_id in entry.kernel_ids():
            params = entry.params_selecting(kernel_id)
            items = tuple(params.items())
            yield Case(kernel_id, entry.name, "elementwise", "forward", kernel_id, items)
            yield Case(f"{kernel_id}_backward", entry.name, "elementwise", "backward", kernel_id, items)
            if entry.accepts_y(entry.bind((), params)):
                yield Case(
                    f"{kernel_id}_backward_y", entry.name, "elementwise", "backward_y", kernel_id, items
                )
    for op in ROW_OPS:
        base = op.name.replace("_backward", "")
        yield Case(op.name, base, "rowwise", "backward" if op.backward else "forward", op.name)
    for loss in LOSSES:
        yield Case(loss, loss, "loss", "forward", loss)
        yield Case(f"{loss}_backward", loss, "loss", "backward", loss)


@functools.lru_cache(maxsize=None)
def build_cases() -> tuple:
    """Every benchmark case, with its peers attached (the single source of truth): the
    registry's, then the fused operations' (``cases_fused``, peers of their own)."""
    from . import cases_fused, peers

    return (tuple(peers.attach(case) for case in _registry_cases())
            + tuple(cases_fused.fused_cases()))


def select(tokens=None) -> tuple:
    """The cases matching any of ``tokens`` (all when ``tokens`` is empty/None)."""
    cases = build_cases()
    if not tokens:
        return cases
    unknown = [t for t in tokens if not any(c.matches(t) for c in cases)]
    if unknown:
        names = sorted({c.activation for c in cases})
        raise ValueError(
            f"no benchmark case matches {', '.join(map(repr, unknown))}; use a function name "
            f"({', '.join(names)}), a case name such as 'gelu_tanh_backward', or a pattern "
            f"such as '*_backward'"
        )
    return tuple(c for c in cases if any(c.matches(t) for t in tokens))
