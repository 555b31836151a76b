"""Numba threading-layer setup: TBB when it loads, else workqueue behind a lock.

Numba's ``omp`` layer aborts a child made by ``fork()`` after the parent ran a
parallel region, and ``workqueue`` is not safe when several Python threads
launch parallel kernels at once.  TBB is both fork- and thread-safe.  The
PyPI ``tbb`` wheel installs ``libtbb.so.12`` in ``<prefix>/lib``, where
Numba's extension cannot find it, so we preload it (``RTLD_GLOBAL``) before
Numba starts its threading layer.  If TBB cannot be loaded we use
``workqueue`` and serialise parallel launches with a lock (:data:`launch_lock`
is then a real lock, else a no-op context).

Thread counts: :func:`run_parallel` is the backend's one way to launch a
parallel kernel: the kernel splits its work into the number of chunks it is
given, and the calling thread's Numba thread count (thread-local, public
``numba.set_num_threads``) is set to that number around the call when it is
below the pool size.  No compiled code reads or sets a thread count, so the
kernels stay disk-cacheable.

``setup()`` must run before the first parallel kernel launch; it is called on
import of ``fastact._numba``.  The user may force a layer with the usual
``NUMBA_THREADING_LAYER`` environment variable; anything but ``tbb`` gets the
lock.  Numba's ``omp`` layer gets fastact's OpenMP wait policy (see
``fastact._openmp_policy``): its libgomp is loaded here under that policy.
"""
from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import sys
import threading

import numba

from .._openmp_policy import wait_policy

_state = {"layer": None, "tbb_library": None, "locked": False}
launch_lock = contextlib.nullcontext()
_pool_size = int(numba.config.NUMBA_NUM_THREADS)


def _tbb_candidates():
    prefixes = {sys.prefix, sys.exec_prefix, getattr(sys, "base_prefix", sys.prefix)}
    for prefix in prefixes:
        yield from sorted(glob.glob(os.path.join(prefix, "lib", "libtbb.so.12*")))
    yield "libtbb.so.12"  # the system loader path


def _load_tbb():
    for path in _tbb_candidates():
        try:
            ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
            return path
        except OSError:
            continue
    return None


def _tbb_layer_works() -> bool:
    try:
        from numba.np.ufunc import tbbpool  # noqa: F401 - import is the test
        return True
    except Exception:
        return False


def setup() -> str:
    """Choose and configure the threading layer; returns its name."""
    global launch_lock
    if _state["layer"] is not None:
        return _state["layer"]
    forced = os.environ.get("NUMBA_THREADING_LAYER")
    layer = None
    if forced in (None, "", "default", "safe", "tbb"):
        _state["tbb_library"] = _load_tbb()
        if _state["tbb_library"] and _tbb_layer_works():
            layer = "tbb"
    if layer is None:
        layer = forced if forced not in (None, "", "default", "safe", "tbb") else "workqueue"
        launch_lock = threading.Lock()
        _state["locked"] = True
    if layer == "omp":  # libgomp reads its wait policy once, when it is loaded
        with wait_policy():
            _preload_libgomp()
    numba.config.THREADING_LAYER = layer
    _state["layer"] = layer
    return layer


def _preload_libgomp() -> None:
    try:
        ctypes.CDLL("libgomp.so.1", mode=ctypes.RTLD_GLOBAL)
    except OSError:  # Numba's omp layer will say what is missing when it starts
        pass


def max_threads() -> int:
    """Numba's thread-pool size (``NUMBA_NUM_THREADS``)."""
    return _pool_size


def active_layer() -> str:
    """The layer Numba actually launched (after the first parallel kernel), else the chosen one."""
    try:
        return numba.threading_layer()
    except ValueError:  # no parallel kernel has run yet
        return f"{_state['layer']} (not started)"


_extension_drivers: dict = {}  # name -> the Cython extension's work-pool driver, or None


def extension_driver(name: str):
    """``fastact._cython.<name>()``, a driver of the Cython extension's work pool
    (``loop_driver``, ``parts_driver``, ``bias_driver``), looked up once; None without the
    extension."""
    if name not in _extension_drivers:
        try:
            from .. import _cython
            _extension_drivers[name] = getattr(_cython, name)()
        except Exception:  # no extension, or it failed to load: the threading layer
            _extension_drivers[name] = None
    return _extension_drivers[name]


def caller_threads(n_threads: int) -> int:
    """n_threads, capped by the calling thread's Numba thread count when the layer has
    started (``numba.set_num_threads`` starts it; asking before would start it for nothing)."""
    layer = numba.np.ufunc.parallel
    if not layer._is_initialized:
        return n_threads
    # the layer's own getter, once started (numba.get_num_threads adds a lock and checks)
    caller = layer._get_num_threads()
    return caller if caller < n_threads else n_threads


def _call_with_threads(fn, args, n_chunks):
    if n_chunks >= _pool_size:  # the whole pool: Numba's default count, nothing to set
        fn(*args, n_chunks)
        return
    previous = numba.get_num_threads()
    if previous != n_chunks:
        numba.set_num_threads(n_chunks)
    try:
        fn(*args, n_chunks)
    finally:
        if previous != n_chunks:
            numba.set_num_threads(previous)


def run_parallel(fn, args, n_chunks):
    """``fn(*args, n_chunks)``: a kernel that splits its work into ``n_chunks`` chunks
    in a prange (1 <= n_chunks <= :func:`max_threads`).  Below the pool size the
    calling thread's Numba thread count is set to ``n_chunks`` for the call and
    restored; for the whole pool it is left as it is (the whole pool unless the
    caller lowered it with ``numba.set_num_threads``: then that caps the threads;
    the results are the same).  Serialised by :data:`launch_lock` when the layer
    needs it."""
    if _state["locked"]:
        with launch_lock:
            _call_with_threads(fn, args, n_chunks)
    else:
        _call_with_threads(fn, args, n_chunks)
