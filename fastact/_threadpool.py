"""fastact as a threadpoolctl library: ``threadpool_info()`` lists it and
``threadpool_limits(n)`` limits it while active.

The controller (threadpoolctl's documented custom-controller API) matches the
loaded Cython extension (``_kernels*.so``, which exports ``PyInit__kernels``)
and reads and sets ``fastact.get_num_threads()``, the count both compiled
backends use.  It is registered when threadpoolctl is imported, before or after
fastact, without fastact importing threadpoolctl itself.
"""
from __future__ import annotations

from ._import_hooks import when_imported

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


def register(threadpoolctl) -> None:
    """Register the controller with ``threadpoolctl`` (the imported module), once."""
    global _registered
    if not _registered:
        threadpoolctl.register(_controller_class())
        _registered = True


def install() -> None:
    """Register now if threadpoolctl is imported, else when it is."""
    when_imported("threadpoolctl", register)
