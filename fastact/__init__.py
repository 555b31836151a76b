"""fastact: fast CPU kernels for neural-network activation functions.

Every activation of the registry (``fastact.activations()``) is a function
here with PyTorch's name and parameters, plus ``derivative``, ``backward`` and
``get`` for any of them by name, and the numerically stable softmax family.
Each has a NumPy reference, a parallel Numba kernel and a parallel Cython
(OpenMP) kernel behind the same call::

    import numpy as np, fastact
    x = np.random.randn(1_000_000).astype(np.float32)
    y = fastact.gelu(x)                       # best available backend
    g = fastact.backward("gelu", np.ones_like(x), x)
    p = fastact.softmax(x.reshape(1000, 1000), axis=-1)
    u = fastact.ufuncs.gelu                   # the same as a numpy.ufunc

See ``fastact.show_config()`` for what is available on this machine.
"""
from __future__ import annotations

from typing import TYPE_CHECKING as _TYPE_CHECKING

from ._accuracy import accuracy_report as accuracy_report
from ._api import (
    ALIAS_FUNCTIONS as _ALIAS_FUNCTIONS,
    FUNCTIONS as _FUNCTIONS,
    ROW_FUNCTIONS as _ROW_FUNCTIONS,
)
from ._api_gated import GATED_FUNCTIONS as _GATED_FUNCTIONS
from ._api import Activation as Activation
from ._api import activations as activations
from ._api import backward as backward
from ._api import derivative as derivative
from ._api import get as get
from ._backends import available as _available
from ._backends import get_backend as get_backend
from ._backends import get_num_threads as get_num_threads
from ._backends import set_backend as set_backend
from ._backends import set_num_threads as set_num_threads
from ._backends import use_backend as use_backend
from ._config import config as config
from ._losses import binary_cross_entropy_with_logits as binary_cross_entropy_with_logits
from ._losses import cross_entropy as cross_entropy
from ._config import show_config as show_config
from ._include import get_compile_args as get_compile_args
from ._include import get_include as get_include
from ._backends import threads as threads
from ._threadpool import install as _install_threadpool_controller

__version__ = "0.1.0"
backends = _available

_install_threadpool_controller()


def __getattr__(name):
    """``fastact.ufuncs`` is imported on first use (it loads the compiled backend)."""
    if name == "ufuncs":
        import importlib

        return importlib.import_module("fastact.ufuncs")
    raise AttributeError(f"module 'fastact' has no attribute {name!r}")


globals().update(_FUNCTIONS)
globals().update(_ALIAS_FUNCTIONS)
globals().update(_ROW_FUNCTIONS)
globals().update(_GATED_FUNCTIONS)

if _TYPE_CHECKING:  # the generated functions' signatures, for type checkers and IDEs
    from ._declarations import *  # noqa: F401,F403

__all__ = (
    list(_FUNCTIONS)
    + list(_ALIAS_FUNCTIONS)
    + list(_ROW_FUNCTIONS)
    + list(_GATED_FUNCTIONS)
    + [
        "Activation",
        "accuracy_report",
        "activations",
        "backward",
        "backends",
        "binary_cross_entropy_with_logits",
        "config",
        "cross_entropy",
        "derivative",
        "get",
        "get_backend",
        "get_compile_args",
        "get_include",
        "get_num_threads",
        "set_backend",
        "set_num_threads",
        "show_config",
        "threads",
        "use_backend",
    ]
)
