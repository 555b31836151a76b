"""Backend discovery, selection and the thread-count setting.

A backend is a module providing

* ``NAME``: its name;
* ``get_elementwise(kernel_id, mode) -> kernel`` where ``mode`` is one of
  ``_registry.MODES``: ``"forward"``, ``"derivative"``, ``"backward"``
  (grad * f'(x)) and ``"backward_y"`` (grad * f' computed from y), and
  ``kernel(out, x, grad, params, n_threads)`` fills ``out`` (C-contiguous arrays of one
  dtype and size), or returns False without writing where ``out`` overlaps ``x`` or
  ``grad`` without being that very object (a kernel that computes such calls right, as
  the reference's, may always fill ``out``);
* ``get_rowwise(op) -> kernel`` for the softmax family (``ROW_OPS`` in the
  registry), ``kernel(out, x, grad, mask, n_threads)`` working along the last
  axis of 2-D ``(rows, n)`` arrays (``out`` is ``(rows,)`` for ``logsumexp``),
  or along axis 1 of 3-D ``(outer, n, inner)`` arrays, the memory layout of any
  non-last axis (``out`` is ``(outer, inner)`` for ``logsumexp``);
* ``get_loss(name) -> kernel`` for ``cross_entropy`` (rows of logits) and
  ``binary_cross_entropy_with_logits`` (contracts: ``fastact._numba.losses``);
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
from typing import Iterator

BACKEND_MODULES = {
    "numpy": "fastact._reference",
    "numba": "fastact._numba",
    "cython": "fastact._cython",
}
AUTO_ORDER = ("cython", "numba", "numpy")  # "auto" takes the first that loads
NAMES = tuple(BACKEND_MODULES) + ("auto",)
_CANONICAL = frozenset(NAMES)  # names spelled as stored: no case folding needed

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
    name = _normalized(name)
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


def available() -> list[str]:
    """Names of the backends that load on this machine, in preference order."""
    names = []
    for name in BACKEND_MODULES:
        try:
            load(name)
            names.append(name)
        except BackendUnavailable:
            pass
    return names


def unavailable() -> dict[str, str]:
    """{name: reason} for the backends that do not load here."""
    available()
    return dict(_failed)


def _normalized(name):
    """Backend names are case-insensitive, as activation names are ("Numba" is "numba")."""
    return name.strip().lower() if isinstance(name, str) else name


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
    elif name not in _CANONICAL:
        name = _normalized(name)
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
    name = _normalized(name)
    if name not in NAMES:
        raise ValueError(_unknown_message(name))
    if name != "auto":
        load(name)
    return name


def set_backend(name: str) -> str:
    """Make ``name`` the default backend for this process; returns the previous one."""
    global _default
    previous, _default = _default, _validate(name)
    return previous


def get_backend() -> str:
    """The name of the backend used when a call passes ``backend=None``."""
    return _override.get() or _default


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[str]:
    """Context manager: use ``name`` for calls without ``backend=`` in this context."""
    name = _validate(name)
    token = _override.set(name)
    try:
        yield name
    finally:
        _override.reset(token)


# --------------------------------------------------------------------- threads
def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where known, else ``os.cpu_count()``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no sched_getaffinity (macOS, Windows)
        return max(1, os.cpu_count() or 1)


def _capped(n: int, source: str, stacklevel: int) -> int:
    """``n`` capped to the usable cores, with a warning when it is above them: more threads
    than cores only slow the kernels down, and thread creation is never unbounded."""
    cores = usable_cores()
    if n > cores:
        warnings.warn(f"{source} asks for {n} threads but only {cores} cores are usable here; "
                      f"using {cores}", RuntimeWarning, stacklevel=stacklevel + 1)
        return cores
    return n


def _threads_from_env(name: str, cores: int):
    """The thread count in environment variable ``name`` (None if unset or invalid, with a
    warning when invalid); ``OMP_NUM_THREADS`` may be a list, whose first entry counts."""
    text = os.environ.get(name, "").strip()
    if name == "OMP_NUM_THREADS":
        text = text.split(",")[0].strip()
    if not text:
        return None
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        warnings.warn(f"{name}={os.environ[name]!r} is not a positive integer; using {cores}",
                      RuntimeWarning, stacklevel=4)
        return None
    return n


def _default_threads() -> int:
    cores = usable_cores()
    for name in ("FASTACT_NUM_THREADS", "OMP_NUM_THREADS"):
        n = _threads_from_env(name, cores)
        if n is not None:
            return _capped(n, name, stacklevel=3)
    return cores


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
    """Set the number of threads kernels may use; returns the previous value.

    ``n`` must be an integer >= 1.  A count above the usable cores (the CPU
    affinity of this process, else ``os.cpu_count()``) is capped to them with a
    ``RuntimeWarning``: ``get_num_threads()`` then returns the cap.
    """
    global num_threads
    if isinstance(n, bool) or not isinstance(n, int) and not hasattr(n, "__index__"):
        raise TypeError(f"number of threads must be an integer, got {type(n).__name__}")
    n = int(n.__index__()) if not isinstance(n, int) else n
    if n < 1:
        raise ValueError(f"number of threads must be >= 1, got {n}")
    previous, num_threads = num_threads, _capped(n, f"set_num_threads({n})", stacklevel=2)
    _publish_num_threads()
    return previous


def get_num_threads() -> int:
    """The number of threads kernels may use: the last ``set_num_threads()``, else
    ``FASTACT_NUM_THREADS``, else ``OMP_NUM_THREADS``, else the usable cores (all capped
    to the usable cores)."""
    return num_threads
