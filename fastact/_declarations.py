"""The generated public functions, declared for type checkers (see ``fastact._typing``).

Imported by ``fastact/__init__.py`` only when type checking (``from ._declarations import *``
re-exports exactly these names); ``tests/test_typing.py`` checks each declaration against
the function the registry generates.
"""
from __future__ import annotations

from . import _typing as _t

identity: _t.Unary; relu: _t.Unary; relu6: _t.Unary; sigmoid: _t.Unary  # noqa: E702
tanh: _t.Unary; silu: _t.Unary; selu: _t.Unary; mish: _t.Unary; softsign: _t.Unary  # noqa: E702
hardsigmoid: _t.Unary; hardswish: _t.Unary; logsigmoid: _t.Unary  # noqa: E702
tanhshrink: _t.Unary; linear: _t.Unary; hard_sigmoid: _t.Unary; hard_swish: _t.Unary  # noqa: E702
log_sigmoid: _t.Unary
leaky_relu: _t.LeakyReLU
gelu: _t.GELU
swish: _t.Swish
quick_gelu: _t.Unary
softplus: _t.Softplus
elu: _t.ELU; celu: _t.ELU  # noqa: E702
hardtanh: _t.Hardtanh; hard_tanh: _t.Hardtanh  # noqa: E702
hardshrink: _t.Shrink; softshrink: _t.Shrink  # noqa: E702
threshold: _t.Threshold
softmax: _t.RowFunction; log_softmax: _t.RowFunction; softmin: _t.RowFunction  # noqa: E702
logsumexp: _t.Reduction
softmax_backward: _t.RowBackward; log_softmax_backward: _t.RowBackward  # noqa: E702
glu: _t.GLU; swiglu: _t.Gated; reglu: _t.Gated; geglu: _t.GeGLU  # noqa: E702
glu_backward: _t.GLUBackward; geglu_backward: _t.GeGLUBackward  # noqa: E702
swiglu_backward: _t.GatedBackward; reglu_backward: _t.GatedBackward  # noqa: E702
