"""Where every Numba kernel of fastact is cached on disk, and under which key.

One directory holds all of them (:func:`cache_dir`): the generated elementwise
kernels (``_factory``) and every ``cache=True`` function of the softmax family,
never the installed package.  Its name is ``numba-<key>``, the key a hash of
every source file of ``fastact._numba`` (and the constants and coefficients
they read), the fastact and Numba versions: Numba's own cache only checks the
file a function is defined in, so a kernel compiled against an older helper
module would load stale; with the key in the path an edit anywhere starts a
new directory.

:func:`jit` is ``numba.njit`` with this cache: functions in ``fastact._numba``
use it instead of ``cache=True`` (which writes beside the source file).
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import threading

from .. import __version__

_NUMBA_DIR = os.path.dirname(os.path.abspath(__file__))
_PACKAGE_DIR = os.path.dirname(_NUMBA_DIR)
_EXTRA_SOURCES = ("_constants.py", "_coefficients.py")
_state: dict = {}


def source_files() -> list:
    """Every source the compiled kernels depend on: each ``.py`` of ``fastact._numba``
    (subpackages included) and the constants and coefficients they read."""
    paths = []
    for root, dirs, files in os.walk(_NUMBA_DIR):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        paths += [os.path.join(root, name) for name in sorted(files) if name.endswith(".py")]
    return paths + [os.path.join(_PACKAGE_DIR, name) for name in _EXTRA_SOURCES]


def key_of(paths, versions: str) -> str:
    """16 hex digits of a hash of ``versions`` and each file's name and contents."""
    h = hashlib.sha256(versions.encode())
    for path in paths:
        h.update(os.path.relpath(path, _PACKAGE_DIR).encode())
        with open(path, "rb") as f:
            h.update(hashlib.sha256(f.read()).digest())
    return h.hexdigest()[:16]


def cache_key() -> str:
    """The key of this installation: :func:`source_files`, fastact's and Numba's versions."""
    import numba

    return key_of(source_files(), f"fastact {__version__} numba {numba.__version__}")


def _writable(path: str) -> bool:
    try:
        os.makedirs(path, exist_ok=True)
        probe = os.path.join(path, f".probe-{os.getpid()}-{threading.get_ident()}")
        with open(probe, "w") as f:
            f.write("")
        os.remove(probe)
        return True
    except OSError:
        return False


def cache_roots() -> list:
    """Candidate parents, first writable wins: ``FASTACT_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/fastact`` (default ``~/.cache/fastact``), else a per-user
    directory in the temp dir."""
    roots = []
    if os.environ.get("FASTACT_CACHE_DIR"):
        roots.append(os.environ["FASTACT_CACHE_DIR"])
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    roots.append(os.path.join(xdg, "fastact"))
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    roots.append(os.path.join(tempfile.gettempdir(), f"fastact-{uid}"))
    return roots


def cache_dir():
    """``<root>/numba-<cache_key()>`` for the first writable root of :func:`cache_roots`
    (None if none is writable: kernels are then compiled once per process)."""
    if "dir" not in _state:
        tag = "numba-" + cache_key()
        _state["dir"] = next((os.path.join(root, tag) for root in cache_roots()
                              if _writable(os.path.join(root, tag))), None)
    return _state["dir"]


def _function_cache_class():
    """A Numba ``FunctionCache`` whose only locator is :func:`cache_dir` (built once)."""
    cls = _state.get("function_cache")
    if cls is not None:
        return cls
    from numba.core.caching import (CompileResultCacheImpl, FunctionCache, _CacheLocator,
                                    _SourceFileBackedLocatorMixin)

    class FastactLocator(_SourceFileBackedLocatorMixin, _CacheLocator):
        """``cache_dir()/<path of the source's directory inside fastact>``."""

        def __init__(self, py_func, py_file):
            self._py_file = py_file
            self._lineno = py_func.__code__.co_firstlineno
            sub = os.path.relpath(os.path.dirname(os.path.abspath(py_file)), _PACKAGE_DIR)
            self._cache_path = os.path.join(cache_dir(), sub)

        def get_cache_path(self):
            return self._cache_path

    class FastactCacheImpl(CompileResultCacheImpl):
        _locator_classes = [FastactLocator]

    class FastactFunctionCache(FunctionCache):
        _impl_class = FastactCacheImpl

    _state["function_cache"] = FastactFunctionCache
    return FastactFunctionCache


def jit(**options):
    """``numba.njit(**options)`` whose disk cache lives in :func:`cache_dir` (in-memory
    only when there is none).  ``cache`` is not an option: it is always on."""
    from numba import njit

    def decorate(py_func):
        dispatcher = njit(cache=False, **options)(py_func)
        if cache_dir() is not None:
            try:
                dispatcher._cache = _function_cache_class()(py_func)
            except RuntimeError:  # no locator: the directory vanished or turned read-only
                pass
        return dispatcher

    return decorate
