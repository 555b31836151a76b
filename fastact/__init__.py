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

from ._accuracy import accuracy_report
from ._api import (
    ALIAS_FUNCTIONS as _ALIAS_FUNCTIONS,
    FUNCTIONS as _FUNCTIONS,
    ROW_FUNCTIONS as _ROW_FUNCTIONS,
    Activation,
    activations,
    backward,
    derivative,
    get,
)
from ._backends import (
    available as backends,
    get_backend,
    get_num_threads,
    set_backend,
    set_num_threads,
    threads,
    use_backend,
)
from ._config import config, show_config
from ._threadpool import install as _install_threadpool_controller

__version__ = "0.1.0"

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

__all__ = (
    list(_FUNCTIONS)
    + list(_ALIAS_FUNCTIONS)
    + list(_ROW_FUNCTIONS)
    + [
        "Activation",
        "accuracy_report",
        "activations",
        "backward",
        "backends",
        "config",
        "derivative",
        "get",
        "get_backend",
        "get_num_threads",
        "set_backend",
        "set_num_threads",
        "show_config",
        "threads",
        "use_backend",
    ]
)
