"""Backend discovery, selection and the thread-count setting.

A backend is a module providing

* ``NAME``: its name;
* ``get_elementwise(kernel_id, mode) -> kernel`` where ``mode`` is one of
  ``_registry.MODES``: ``"forward"``, ``"derivative"``, ``"backward"``
  (grad * f'(x)) and ``"backward_y"`` (grad * f' computed from y), and
  ``kernel(out, x, grad, params, n_threads)`` fills ``out``;
* ``get_rowwise(op) -> kernel`` for the softmax family (``ROW_OPS`` in the
  registry), ``kernel(out, x, grad, mask, n_threads)`` working along the last
  axis of 2-D ``(rows, n)`` arrays (``out`` is ``(rows,)`` for ``logsumexp``),
  or along axis 1 of 3-D ``(outer, n, inner)`` arrays, the memory layout of any
  non-last axis (``out`` is ``(outer, inner)`` for ``logsumexp``);
* ``config() -> dict``: facts for ``show_config()``.

The dispatch layer (``_dispatch``) guarantees that every array a kernel
receives is C-contiguous, native float32 or float64 (all the same dtype), of
the same shape (except the reduced ``out`` of ``logsumexp`` and the boolean
``mask``), and that ``out`` is either one of the inputs exactly or does not
overlap them.  ``params`` is a tuple of at most ``_registry.KERNEL_ARG_COUNT``
Python floats (``_registry.kernel_args`` pads it to a scalar formula's ``(a, b)``).

Backends are imported lazily (importing Numba is slow, see docs/tuning.md), so
``import fastact`` stays fast.
"""
from __future__ import annotations

import contextlib
import contextvars
import importlib
import os
import threading
import warnings

BACKEND_MODULES = {
    "numpy": "fastact._reference",
    "numba": "fastact._numba",
    "cython": "fastact._cython",
}
AUTO_ORDER = ("cython", "numba", "numpy")  # "auto" takes the first that loads
NAMES = tuple(BACKEND_MODULES) + ("auto",)

class BackendUnavailable(RuntimeError, ValueError):
    """The requested backend does not load here (the message says why)."""


_loaded: dict = {}  # name -> module
_failed: dict = {}  # name -> reason it is unavailable
_lock = threading.Lock()
_default = "auto"
_override: contextvars.ContextVar = contextvars.ContextVar("fastact_backend", default=None)


def load(name: str):
    """The backend module ``name`` (not "auto"); raises a helpful error if unusable."""
    module = _loaded.get(name)
    if module is not None:
        return module
    if name not in BACKEND_MODULES:
        raise ValueError(_unknown_message(name))
    with _lock:
        if name in _loaded:
            return _loaded[name]
        if name not in _failed:
            try:
                module = importlib.import_module(BACKEND_MODULES[name])
                check = getattr(module, "check_available", None)
                if check is not None:
                    check()
                _loaded[name] = module
                return module
            except Exception as exc:  # ImportError, a build problem, a missing library...
                _failed[name] = f"{type(exc).__name__}: {exc}"
    raise BackendUnavailable(
        f"fastact backend {name!r} is not available here ({_failed[name]}). "
        f"Available backends: {', '.join(n for n in BACKEND_MODULES if n not in _failed)}."
    )


def available() -> list:
    """Names of the backends that load on this machine, in preference order."""
    names = []
    for name in BACKEND_MODULES:
        try:
            load(name)
            names.append(name)
        except BackendUnavailable:
            pass
    return names


def unavailable() -> dict:
    """{name: reason} for the backends that do not load here."""
    available()
    return dict(_failed)


def _unknown_message(name) -> str:
    return (
        f"unknown backend {name!r}; choose one of {', '.join(repr(n) for n in NAMES)} "
        f"(available here: {', '.join(available())})"
    )


_auto_choice = None


def resolve(name):
    """The module for ``name``: a backend name, "auto" or None (the current one)."""
    if name is None:
        name = _override.get() or _default
    if name == "auto":
        global _auto_choice
        if _auto_choice is None:
            for candidate in AUTO_ORDER:
                try:
                    _auto_choice = load(candidate)
                    break
                except BackendUnavailable:
                    continue
        return _auto_choice
    module = _loaded.get(name)
    if module is not None:
        return module
    if not isinstance(name, str):
        raise TypeError(f"backend must be a string or None, got {type(name).__name__}")
    return load(name)


def _validate(name) -> str:
    if not isinstance(name, str):
        raise TypeError(f"backend must be a string, got {type(name).__name__}")
    if name not in NAMES:
        raise ValueError(_unknown_message(name))
    if name != "auto":
        load(name)
    return name


def set_backend(name: str) -> str:
    """Make ``name`` the default backend for this process; returns the previous one."""
    global _default
    _validate(name)
    previous, _default = _default, name
    return previous


def get_backend() -> str:
    """The name of the backend used when a call passes ``backend=None``."""
    return _override.get() or _default


@contextlib.contextmanager
def use_backend(name: str):
    """Context manager: use ``name`` for calls without ``backend=`` in this context."""
    token = _override.set(_validate(name))
    try:
        yield name
    finally:
        _override.reset(token)


# --------------------------------------------------------------------- threads
def _default_threads() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cores = os.cpu_count() or 1
    var, env = _thread_env()
    if env:
        try:
            n = int(env)
            if n < 1:
                raise ValueError
            return n
        except ValueError:
            warnings.warn(
                f"{var}={env!r} is not a positive integer; using {cores}",
                RuntimeWarning,
                stacklevel=2,
            )
    return max(1, cores)


def _thread_env() -> tuple:
    """``(variable, value)`` of the first thread-count variable set: FASTACT_NUM_THREADS,
    then OMP_NUM_THREADS (its first level: "4,2" gives "4"); ``(None, None)`` if neither."""
    for var in ("FASTACT_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(var, "").strip()
        if value:
            return var, value.split(",")[0].strip() if var == "OMP_NUM_THREADS" else value
    return None, None


num_threads = _default_threads()
_thread_listeners: list = []  # called with the new count by set_num_threads (the ufunc loops)


def _publish_num_threads() -> None:
    for listener in _thread_listeners:
        listener(num_threads)


@contextlib.contextmanager
def threads(n: int):
    """Context manager: kernels use ``n`` threads inside the block (process-wide), then
    the previous count again."""
    previous = set_num_threads(n)
    try:
        yield n
    finally:
        set_num_threads(previous)


def set_num_threads(n: int) -> int:
    """Set the number of threads kernels may use; returns the previous value."""
    global num_threads
    if isinstance(n, bool) or not isinstance(n, int) and not hasattr(n, "__index__"):
        raise TypeError(f"number of threads must be an integer, got {type(n).__name__}")
    n = int(n.__index__()) if not isinstance(n, int) else n
    if n < 1:
        raise ValueError(f"number of threads must be >= 1, got {n}")
    previous, num_threads = num_threads, n
    _publish_num_threads()
    return previous


def get_num_threads() -> int:
    """The number of threads kernels may use: ``set_num_threads``, else
    ``FASTACT_NUM_THREADS``, else ``OMP_NUM_THREADS``, else the CPUs this process may run on."""
    return num_threads
