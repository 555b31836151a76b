"""fastact as a threadpoolctl library: ``threadpool_info()`` lists it and
``threadpool_limits(n)`` limits it while active.

The controller (threadpoolctl's documented custom-controller API) matches the
loaded Cython extension (``_kernels*.so``, which exports ``PyInit__kernels``)
and reads and sets ``fastact.get_num_threads()``, the count both compiled
backends use.  It is registered when threadpoolctl is imported, before or after
fastact, without fastact importing threadpoolctl itself.
"""
from __future__ import annotations

import importlib.abc
import importlib.util
import sys

_registered = False


def _controller_class():
    from threadpoolctl import LibController

    from . import _backends

    class FastactController(LibController):
        """fastact's thread count, seen and limited by threadpoolctl."""

        user_api = "fastact"
        internal_api = "fastact"
        filename_prefixes = ("_kernels",)
        check_symbols = ("PyInit__kernels",)

        def get_num_threads(self):
            return _backends.get_num_threads()

        def set_num_threads(self, num_threads):
            _backends.set_num_threads(max(1, int(num_threads)))

        def get_version(self):
            from . import __version__

            return __version__

        def set_additional_attributes(self):
            pass

    return FastactController


def register() -> None:
    """Register the controller with threadpoolctl (once; threadpoolctl must be imported)."""
    global _registered
    if not _registered:
        sys.modules["threadpoolctl"].register(_controller_class())
        _registered = True


class _RegisterOnImport(importlib.abc.MetaPathFinder):
    """Registers the controller right after threadpoolctl is first imported."""

    def find_spec(self, name, path=None, target=None):
        if name != "threadpoolctl":
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_register(module):
            exec_module(module)
            register()
            if self in sys.meta_path:
                sys.meta_path.remove(self)

        spec.loader.exec_module = exec_then_register
        return spec


def install() -> None:
    """Register now if threadpoolctl is imported, else when it is."""
    if "threadpoolctl" in sys.modules:
        register()
    elif not any(isinstance(f, _RegisterOnImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _RegisterOnImport())
