"""The ``"numba"`` backend: parallel, vectorized Numba kernels.

Interface (see ``fastact._backends``): ``NAME``, ``get_elementwise``,
``get_rowwise``, ``get_loss``, ``config``, ``check_available``, ``warmup``.

Layout: ``_vmath`` (branch-free exp/expm1/log1p/tanh/Phi that vectorize),
``_formulas`` (one scalar formula per kernel id and mode), ``_factory``
(generates and caches the loops), ``_parallel`` (the one parallel driver of
the elementwise kernels), ``_threading`` (TBB or a guarded workqueue; the one
way to launch a parallel kernel), ``softmax`` (the softmax family).

Kernels are compiled lazily, per (kernel id, mode, dtype), on first use, and
cached on disk (``_cache.cache_dir()``); ``warmup()`` compiles everything.
Arrays of at least :data:`PARALLEL_THRESHOLD` elements (memory-bound kernels:
:data:`PARALLEL_MIN_BYTES_CHEAP` bytes of output) run on ``min(n_threads, NUMBA_NUM_THREADS)``
threads, smaller ones serially in the calling thread; when the arrays (inputs +
output) of a memory-bound kernel take at least :data:`STREAM_MIN_BYTES`, an output
that overlaps no input is written with streaming stores (``_parallel.drive_tiled``;
the transcendental kernels keep plain stores: through the L1 tile they ran slower); a
memory-bound kernel with plain stores on the threads, or on one thread from
:data:`PREFETCH_MIN_BYTES` of output on, prefetches its output lines for writing a block
ahead (``_parallel.drive``'s ``prefetch``).  An output that is an input
(in place) goes through the tile with plain stores from
``_constants.NUMBA_IN_PLACE_TILED_MIN_ELEMENTS`` on (LLVM runs a loop over aliased arrays scalar).
With the Cython extension built (and :data:`WORK_POOL` set), every call whose output
overlaps no input runs the kernel's compiled chunk function through the extension's work
pool's driver (``fastact._cython.loop_driver``), which applies the Cython backend's
policy: serial below its thresholds (one C call, where Numba's dispatcher costs several
hundred nanoseconds), else chunks taken first come first served by the caller and helpers
that sleep between calls and move off their caller's core, instead of the threading layer,
whose TBB workers spin between calls and, beside busy processes, share a core with
them in whole time slices (docs/tuning.md, "Numba loops on the work pool"); a transcendental
kernel whose x takes at least ``_constants.READ_PREFETCH_MIN_BYTES`` is called a block at a time,
each after read prefetches of the input lines ahead (docs/tuning.md, "Smooth elementwise
loops past the caches").
Every kernel is elementwise, so results do not depend on the thread count nor on the
stores.
"""
from __future__ import annotations

import time

import numba
import numpy as np

from . import _cache, _factory, _fused, _labels, _parallel, _stream, _threading
from .. import _constants, _machine
from .._openmp_policy import describe as describe_wait_policy
from .._registry import (MODES, all_kernel_ids, kernel_args, kernel_modes, memory_bound,
                         y_kernel_ids)

NAME = "numba"
_labels.install()

# The launch and store policy (fastact/_constants.py; measurements: docs/tuning.md,
# "Elementwise loop drivers"); module attributes, read at each call, so tuning runs can
# set them.  With the work pool, every call whose output overlaps no input goes through its
# driver and its thresholds decide; without it, below PARALLEL_THRESHOLD elements
# (PARALLEL_MIN_BYTES_CHEAP bytes for the memory-bound kernels) a kernel runs serially in
# the calling thread.
PARALLEL_THRESHOLD = _constants.NUMBA_PARALLEL_MIN_ELEMENTS
PARALLEL_MIN_BYTES_CHEAP = _constants.NUMBA_PARALLEL_MIN_BYTES_CHEAP
IN_PLACE_TILED_MIN = _constants.NUMBA_IN_PLACE_TILED_MIN_ELEMENTS
STREAM_MIN_BYTES = _machine.stream_min_bytes() if _stream.AVAILABLE else None
PREFETCH_MIN_BYTES = _constants.NUMBA_WRITE_PREFETCH_MIN_BYTES
# With the Cython extension built, loops whose output overlaps no input run through its
# work pool (module docstring); False: Numba's own drivers and threading layer
WORK_POOL = True

_LAYER = _threading.setup()
_MAX_THREADS = _threading.max_threads()
_DTYPE_NAMES = {"f": "float32", "d": "float64"}
_KERNEL_IDS = frozenset(all_kernel_ids())
_Y_IDS = frozenset(y_kernel_ids())


def check_available() -> None:
    """Raise if this backend cannot run here (Numba imported fine if we got here)."""
    _threading.setup()


def _check(kernel_id, mode):
    if kernel_id not in _KERNEL_IDS:
        raise KeyError(f"numba backend has no kernel {kernel_id!r}")
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}")
    if mode == "backward_y" and kernel_id not in _Y_IDS:
        raise ValueError(f"{kernel_id!r} has no derivative as a function of y")


def get_elementwise(kernel_id: str, mode: str):
    """kernel(out, x, grad, params, n_threads): out = f(x), f'(x), grad*f'(x) or grad*f'(y)."""
    _check(kernel_id, mode)
    entries: dict = {}  # dtype char -> (serial driver, chunk address)
    chunks: dict = {}  # dtype char -> chunk address

    def compiled(char):
        entry = entries[char] = _factory.compile_kernel(kernel_id, mode, _DTYPE_NAMES[char])
        return entry

    def chunk_address(char):
        address = chunks[char] = _factory.chunk_address(kernel_id, mode, _DTYPE_NAMES[char])
        return address

    cheap = memory_bound(kernel_id, mode)
    uses_grad = MODES[mode][1]

    def kernel(out, x, grad, params, n_threads):
        if uses_grad and grad is None:
            raise TypeError("fastact numba kernel: the backward modes need grad")
        # in place means out is an input object itself; False (nothing written) when out
        # overlaps an input it is not: the pool's driver checks, the own drivers here
        in_place = out is x or out is grad
        pool = _pool_driver() if not in_place or x.size < IN_PLACE_TILED_MIN else None
        if pool is not None:  # any shape (C-contiguous); serial or parallel by its thresholds
            address = chunks.get(x.dtype.char) or chunk_address(x.dtype.char)
            return pool(address, out, x, grad if uses_grad else None, params,
                        _threading.caller_threads(n_threads) if n_threads > 1 else 1, cheap)
        if ((out is not x and np.may_share_memory(out, x))
                or (uses_grad and out is not grad and np.may_share_memory(out, grad))):
            return False
        _own_drivers(out.reshape(-1), x.reshape(-1), grad, params, n_threads, in_place)
        return True

    def _own_drivers(out, x, grad, params, n_threads, in_place):
        """Without the pool (or in place): Numba's serial driver or its threading layer."""
        char = x.dtype.char
        grad = x if grad is None else grad.reshape(-1)
        a, b = kernel_args(params)
        n = x.size
        disjoint = not in_place or n < IN_PLACE_TILED_MIN  # short in place: no tile
        parallel = n_threads > 1 and (out.nbytes >= PARALLEL_MIN_BYTES_CHEAP if cheap
                                      else n >= PARALLEL_THRESHOLD)
        prefetch = cheap and (parallel or out.nbytes >= PREFETCH_MIN_BYTES)
        limit = STREAM_MIN_BYTES
        streamed = (cheap and limit is not None
                    and out.nbytes * (2 if grad is x else 3) >= limit and disjoint)
        tiled = streamed or not disjoint
        if not (parallel or tiled or prefetch):
            run, address = entries.get(char) or compiled(char)
            run(address, out, x, grad, a, b)
            return
        k = 1 if not parallel else n_threads if n_threads < _MAX_THREADS else _MAX_THREADS
        address = chunks.get(char) or chunk_address(char)
        driver = _parallel.driver_for(_DTYPE_NAMES[char], tiled)
        _threading.run_parallel(driver, (address, out, x, grad, a, b,
                                         streamed if tiled else prefetch), k)

    kernel.__name__ = f"numba_{kernel_id}_{mode}"
    kernel.__doc__ = f"Numba kernel {kernel_id} ({mode}); see fastact._numba._formulas."
    return kernel


def _pool_driver():
    """The work pool's loop driver (``fastact._cython.loop_driver``) when WORK_POOL is set
    and the compiled extension loads; else None (the threading layer)."""
    return _threading.extension_driver("loop_driver") if WORK_POOL else None


def _run_fused(kind, char, args, n, n_threads):
    """A fused driver on ``args``: serial below PARALLEL_THRESHOLD elements, else threaded."""
    dtype = _DTYPE_NAMES[char]
    if n < PARALLEL_THRESHOLD or n_threads <= 1:
        _fused.driver(kind, dtype, False)(*args, 1)
    else:
        k = n_threads if n_threads < _MAX_THREADS else _MAX_THREADS
        _threading.run_parallel(_fused.driver(kind, dtype, True), args, k)


def get_biased(kernel_id: str, mode: str):
    """kernel(out, x, grad, bias, params, n_threads, db=None): ``mode`` of the activation
    on x + bias (out, x, grad: C-contiguous (rows, m); bias: (m,)); db (float64 (m,), or
    None) receives the column sums of out, bitwise independent of n_threads.  With the
    extension built (and WORK_POOL set) the extension's bias driver runs the kernel's C
    chunk function on its work pool (``fastact._cython.bias_driver``), else ``_fused``'s
    driver on the threading layer.  False, writing nothing, when out overlaps bias, or x or
    grad without being that very array."""
    _check(kernel_id, mode)
    chunks: dict = {}  # dtype char -> the kernel's C chunk function

    def kernel(out, x, grad, bias, params, n_threads, db=None):
        char = x.dtype.char
        address = chunks.get(char) or chunks.setdefault(
            char, _factory.chunk_address(kernel_id, mode, _DTYPE_NAMES[char]))
        pool = _threading.extension_driver("bias_driver") if WORK_POOL else None
        if pool is not None:
            threads = 1 if x.size < PARALLEL_THRESHOLD else _threading.caller_threads(n_threads)
            return pool(address, out, x, grad, bias, kernel_args(params), threads, db)
        if (np.may_share_memory(out, bias) or (out is not x and np.may_share_memory(out, x))
                or (grad is not None and out is not grad and np.may_share_memory(out, grad))):
            return False
        rows, m = x.shape
        per_block = _fused.block_rows(rows) if db is not None else 1  # 1: items in memory order
        partial = np.zeros((-(-rows // per_block), m if db is not None else 0))
        geom = np.array([rows, m, per_block], np.int64)
        flat_x = x.reshape(-1)
        flat_g = flat_x if grad is None else grad.reshape(-1)
        a, b = kernel_args(params)
        _run_fused("bias", char, (address, out.reshape(-1), flat_x, flat_g, bias, a, b,
                                          partial, geom), x.size, n_threads)
        if db is not None:
            np.sum(partial, axis=0, out=db)  # block order: independent of the threads
        return True

    kernel.__name__ = f"numba_{kernel_id}_{mode}_bias"
    return kernel


def get_gated(kernel_id: str, mode: str):
    """The gated unit act(gate) * up of ``kernel_id`` (see ``fastact._reference.get_gated``
    for the interface); ``mode`` is "forward" or "backward": the unit's generated
    one-pass loop on every (row, tile) item.  With the extension built (and WORK_POOL
    set) the extension's gated driver runs the loop's C chunk function on its work pool
    (``fastact._cython.gated_driver``), else ``_fused``'s driver on the threading layer."""
    chunks, address_of = _gated_chunks(kernel_id, mode)

    def kernel(outs, ins, rows, m, params, n_threads):
        char = ins[0].flat.dtype.char
        address = chunks.get(char) or address_of(char)
        pool = _threading.extension_driver("gated_driver") if WORK_POOL else None
        if pool is not None:
            pool(address, outs, ins, rows, m, params, _gated_threads(rows * m, n_threads))
            return
        gate, up, grad = ins if len(ins) == 3 else (ins[0], ins[1], ins[0])
        out, d_up = outs if len(outs) == 2 else (outs[0], outs[0])
        geom = (rows, m, gate.offset, gate.row_stride, up.offset, up.row_stride, grad.offset,
                grad.row_stride, out.offset, out.row_stride, d_up.offset, d_up.row_stride)
        a, b = kernel_args(params)
        args = (address, (out.flat, d_up.flat), (gate.flat, up.flat, grad.flat), geom, a, b)
        _run_fused("gated", char, args, rows * m, n_threads)

    kernel.__name__ = f"numba_{kernel_id}_{mode}_gated"
    return kernel


def get_gated_direct(kernel_id: str, mode: str):
    """The gated unit on whole arrays (interface: ``fastact._cython.get_gated_direct``) on
    the extension's work pool (``fastact._cython.gated_direct_driver``); None without the
    extension, and False (nothing written) from a call while WORK_POOL is unset: the
    dispatch then uses :func:`get_gated`'s kernel."""
    chunks, address_of = _gated_chunks(kernel_id, mode)
    if _threading.extension_driver("gated_direct_driver") is None:
        return None
    drivers = _threading._extension_drivers  # holds the driver: looked up above

    def kernel(out, x, other, grad, gate_half, params, n_threads):
        pool = drivers.get("gated_direct_driver") if WORK_POOL else None
        char = x.dtype.char
        if pool is None or char not in _DTYPE_NAMES:
            return False
        n = x.size >> 1 if other is None else x.size  # the gate's elements (_gated_threads)
        return pool(chunks.get(char) or address_of(char), out, x, other, grad, gate_half,
                    params, 1 if n < PARALLEL_THRESHOLD else _threading.caller_threads(n_threads))

    kernel.__name__ = f"numba_{kernel_id}_{mode}_gated_direct"
    return kernel


def _gated_chunks(kernel_id, mode):
    """``(chunks, address_of)``: dtype char -> the address of the unit's C chunk function,
    and the function that compiles (or loads) one on first use and records it there."""
    _check(kernel_id, "forward")
    if mode not in ("forward", "backward"):
        raise ValueError(f"unknown gated mode {mode!r}")
    chunks: dict = {}

    def address_of(char):
        return chunks.get(char) or chunks.setdefault(
            char, _factory.gated_address(kernel_id, mode, _DTYPE_NAMES[char]))

    return chunks, address_of


def _gated_threads(n, n_threads):
    """The work pool's thread count for a gated call of n elements (as the bias kernels)."""
    return 1 if n < PARALLEL_THRESHOLD else _threading.caller_threads(n_threads)


def get_rowwise(op: str):
    """The softmax-family kernel ``op`` (see ``fastact._numba.softmax``)."""
    from . import softmax

    return softmax.get_rowwise(op)


def get_loss(name: str):
    """The loss kernel ``name`` (see ``fastact._numba.losses``)."""
    from . import losses

    return losses.get_loss(name)


def kernel_variants():
    """Every (kernel id, mode, dtype) this backend compiles."""
    for kernel_id in all_kernel_ids():
        for mode in kernel_modes(kernel_id):
            for dtype in _factory.DTYPES:
                yield kernel_id, mode, dtype


def warmup(verbose: bool = False) -> dict:
    """Compile (or load from the disk cache) every elementwise kernel; returns timings.

    ``{"elementwise_seconds": s, "kernels": n, "rowwise_seconds": s2}``.
    """
    t0 = time.perf_counter()
    count = 0
    for kernel_id, mode, dtype in kernel_variants():
        t = time.perf_counter()
        _factory.compile_kernel(kernel_id, mode, dtype)
        count += 1
        if verbose:
            print(f"{kernel_id:12s} {mode:11s} {dtype}: {time.perf_counter() - t:.2f} s")
    for dtype in _factory.DTYPES:
        _parallel.driver_for(dtype)
        _parallel.driver_for(dtype, True)
    t1 = time.perf_counter()
    from . import softmax

    softmax.warmup()
    return {"elementwise_seconds": t1 - t0, "kernels": count,
            "rowwise_seconds": time.perf_counter() - t1}


def config() -> dict:
    """Facts for ``show_config()``."""
    return {
        "numba": numba.__version__,
        "threading_layer": _threading.active_layer(),
        "max_threads": _MAX_THREADS,
        "parallel_threshold": PARALLEL_THRESHOLD,
        "parallel_min_bytes_cheap": PARALLEL_MIN_BYTES_CHEAP,
        "stream_min_bytes": STREAM_MIN_BYTES,
        "write_prefetch_min_bytes": PREFETCH_MIN_BYTES,
        "tbb_library": _threading._state["tbb_library"],
        "elementwise_pool": ("fastact work pool (the cython extension)" if _pool_driver()
                             else "the threading layer"),
        **({"openmp_wait_policy": describe_wait_policy()}
           if _threading._state["layer"] == "omp" else {}),
        "cache_dir": _cache.cache_dir(),
    }
