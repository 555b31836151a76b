"""Run a callback when an optional module is imported, without importing it.

fastact integrates with optional packages (threadpoolctl, ml_dtypes) that
``import fastact`` must not import: ``when_imported(name, callback)`` calls
``callback(module)`` now if ``name`` is already imported, else right after its
first import (a ``sys.meta_path`` finder that wraps the module's loader).
"""
from __future__ import annotations

import importlib.abc
import importlib.util
import sys

_pending: dict = {}  # module name -> callbacks waiting for its import


class _AfterImport(importlib.abc.MetaPathFinder):
    """Wraps the loader of a watched module so that its callbacks run after it executes."""

    def find_spec(self, name, path=None, target=None):
        if name not in _pending:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_notify(module):
            exec_module(module)
            for callback in _pending.pop(name, ()):
                callback(module)
            if not _pending and _finder in sys.meta_path:  # nothing left to watch
                sys.meta_path.remove(_finder)

        spec.loader.exec_module = exec_then_notify
        return spec


_finder = _AfterImport()


def when_imported(name: str, callback) -> None:
    """``callback(module)`` once ``name`` is imported (now, if it already is)."""
    if name in sys.modules:
        callback(sys.modules[name])
        return
    _pending.setdefault(name, []).append(callback)
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)
