"""The ``"cython"`` backend: compiled OpenMP kernels from ``fastact/_kernels.pyx``.

The extension is built by ``setup.py`` in up to three flavours of the same C
code: portable (x86-64 baseline / the platform default), ``x86_64_v3``
(AVX2 + FMA) and ``x86_64_v4`` (AVX-512).  At import the best flavour this CPU
(and OS) supports is loaded, under the module name ``fastact._kernels``;
``FASTACT_CYTHON_ISA=baseline|x86_64_v3|x86_64_v4`` forces one.

Backend interface (see ``fastact._backends``):

* ``get_elementwise(kernel_id, mode)`` -> ``kernel(out, x, grad, params, n_threads)``
* ``get_rowwise(op)`` -> ``kernel(out, x, grad, mask, n_threads)`` (the softmax
  family, from ``fastact/_cython/softmax.pxi`` and its C headers)
* ``get_loss(name)``: the losses (``fastact/_cython/losses.pxi``, ``losses.h``)
* ``config()``, ``check_available()``, ``warmup()``

The extension also builds the NumPy ufuncs of ``fastact.ufuncs`` (``make_ufunc``,
``make_gated_ufunc``, ``make_bias_ufunc``, ``register_bfloat16``; inner loops from
``_cython/ufunc_loops.pxi.tp``, the bias ufuncs' one loop in ``_cython/ufuncs_bias.pxi``).

Fork safety: GNU OpenMP's thread pool does not survive ``fork()``; a child
whose parent had run a parallel region hangs in its next one.  An
``os.register_at_fork(after_in_child=...)`` hook therefore switches the
kernels of a forked child to serial loops (same results, one thread).

Load: the extension loads GNU OpenMP under fastact's wait policy (a short spin,
then sleep: graceful under contention; see ``fastact._openmp_policy``) unless
the user set ``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT``.
"""
from __future__ import annotations

import functools
import importlib
import importlib.machinery
import importlib.util
import os
import sys

from .. import _machine
from .._openmp_policy import describe as describe_wait_policy
from .._openmp_policy import wait_policy

NAME = "cython"

_HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the package root
_LEVELS = ("x86_64_v4", "x86_64_v3")  # best first
_ENV_ISA = "FASTACT_CYTHON_ISA"

_module = None
_variant = None
_import_error = None
_elementwise_cache: dict = {}


# ------------------------------------------------------------- CPU features
def _cpu_flags() -> set:
    """Lower-case CPU feature names this machine (and its OS) supports."""
    flags = set()
    try:  # NumPy's runtime dispatcher checks OS support (xgetbv) too
        from numpy._core._multiarray_umath import __cpu_features__ as feats
    except ImportError:  # pragma: no cover - older NumPy
        try:
            from numpy.core._multiarray_umath import __cpu_features__ as feats
        except ImportError:
            feats = {}
    flags.update(k.lower() for k, v in feats.items() if v)
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags.update("cpuinfo:" + w for w in line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    return flags


def _supports(level: str, flags: set) -> bool:
    if level == "x86_64_v4":
        need_np = {"avx512f", "avx512cd", "avx512_skx"}
        need_cpu = {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"}
    else:
        need_np = {"avx2", "fma3", "f16c"}
        need_cpu = {"avx2", "fma", "f16c", "bmi1", "bmi2", "movbe"}
    if not need_np <= flags:
        return False
    cpuinfo = {f[8:] for f in flags if f.startswith("cpuinfo:")}
    if cpuinfo and not need_cpu <= cpuinfo:
        return False
    return _supports("x86_64_v3", flags) if level == "x86_64_v4" else True


def _variant_path(level: str):
    folder = os.path.join(_HERE, "_isa", level)
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = os.path.join(folder, "_kernels" + suffix)
        if os.path.exists(path):
            return path
    return None


def _load_variant(level: str, path: str):
    spec = importlib.util.spec_from_file_location("fastact._kernels", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _load():
    """Import the best kernels module; remember why if there is none."""
    global _module, _variant, _import_error
    forced = os.environ.get(_ENV_ISA, "").strip().lower()
    flags = None
    errors = []
    if forced != "baseline" and "fastact._kernels" not in sys.modules:
        levels = _LEVELS if not forced else (forced,)
        flags = _cpu_flags()
        for level in levels:
            path = _variant_path(level)
            if path is None:
                if forced:
                    errors.append(f"{_ENV_ISA}={forced}: no such build")
                continue
            if not forced and not _supports(level, flags):
                continue
            try:
                module = _load_variant(level, path)
            except Exception as exc:  # a broken variant: fall back to the next
                errors.append(f"{level}: {type(exc).__name__}: {exc}")
                continue
            sys.modules["fastact._kernels"] = module
            _module, _variant = module, level
            return
    try:
        _module = importlib.import_module("fastact._kernels")
        _variant = getattr(_module, "__fastact_variant__", None) or (
            "baseline" if not _module.__file__.startswith(os.path.join(_HERE, "_isa"))
            else os.path.basename(os.path.dirname(_module.__file__))
        )
        if not hasattr(_module, "ElementwiseKernel"):
            raise ImportError(
                f"{_module.__file__} is an outdated build without the kernels; rebuild it"
            )
    except Exception as exc:
        _module = None
        _import_error = (
            f"the compiled extension fastact._kernels could not be imported "
            f"({type(exc).__name__}: {exc}). Install fastact with a C compiler and Cython "
            f"available: `pip install .` and run Python from outside the source tree, or "
            f"`pip install -e .` to build it in place in a clone"
            + (f"; also tried: {'; '.join(errors)}" if errors else "")
        )


def _after_fork_in_child():
    for mod in {_module, sys.modules.get("fastact._kernels")}:
        mark = getattr(mod, "_mark_forked_child", None)
        if mark is not None:
            mark()


with wait_policy():  # libgomp reads its wait policy when the extension loads it
    _load()
if _module is not None:  # the extension starts from STREAM_MIN_BYTES; this machine's value
    _module._set_stream_min(_machine.stream_min_bytes())
if _module is not None and hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


# ------------------------------------------------------- backend interface
def check_available():
    """Raise ImportError explaining why the backend cannot be used, if it cannot."""
    if _module is None:
        raise ImportError(_import_error)


def get_elementwise(kernel_id: str, mode: str):
    """``kernel(out, x, grad, params, n_threads)`` for a registry kernel id and mode.

    mode: "forward" (f(x)), "derivative" (f'(x)), "backward" (grad * f'(x)),
    "backward_y" (grad * f' computed from y = f(x)).
    """
    check_available()
    key = (kernel_id, mode)
    k = _elementwise_cache.get(key)
    if k is None:
        k = _elementwise_cache[key] = _module.ElementwiseKernel(kernel_id, mode)
    return k


def loop_driver():
    """The extension's driver of elementwise loops compiled elsewhere,
    ``run_loop_at(address, out, x, grad, params, n_threads, cheap)`` (the work pool's
    chunks, prefetch and streaming stores), or None without the extension."""
    return getattr(_module, "run_loop_at", None)


def bias_driver():
    """The extension's driver of an activation on x + bias with the activation's loop
    compiled elsewhere, ``bias_call_at(address, out, x, grad, bias, params, n_threads,
    db)`` (the work pool's items), or None without the extension."""
    return getattr(_module, "bias_call_at", None)


def gated_driver():
    """The extension's driver of a gated unit with the unit's loop compiled elsewhere,
    ``gated_call_at(address, outs, ins, rows, m, params, n_threads)`` (Strided operands,
    the work pool's items), or None without the extension."""
    return getattr(_module, "gated_call_at", None)


def gated_direct_driver():
    """The same on whole arrays, ``gated_direct_at(address, out, x, other, grad, gate_half,
    params, n_threads)`` (the contract of ``get_gated_direct``'s kernels), or None without
    the extension."""
    return getattr(_module, "gated_direct_at", None)


def parts_driver():
    """The extension's driver of part functions compiled elsewhere,
    ``run_parts_at(address, ctx, parts, n_threads)`` (the work pool), or None without
    the extension."""
    return getattr(_module, "run_parts_at", None)


def get_biased(kernel_id: str, mode: str):
    """``kernel(out, x, grad, bias, params, n_threads, db=None)``: ``mode`` of the activation
    on x + bias in one pass (see ``fastact._reference.get_biased``); False, writing
    nothing, when out overlaps bias, or x or grad without being that very array."""
    loop = get_elementwise(kernel_id, mode)  # loads the extension
    return functools.partial(_module.bias_call, loop)


def get_gated(kernel_id: str, mode: str):
    """The gated unit act(gate) * up of ``kernel_id`` in ``mode`` "forward" or "backward"
    (interface: ``fastact._reference.get_gated``): the unit's generated one-pass loop."""
    check_available()
    call = _module.gated_call
    if kernel_id not in _module.GATED_KERNEL_IDS:
        raise KeyError(f"the cython backend has no gated loop for {kernel_id!r}")

    def kernel(outs, ins, rows, m, params, n_threads):
        call(kernel_id, mode, outs, ins, rows, m, params, n_threads)

    return kernel


def get_gated_direct(kernel_id: str, mode: str):
    """The gated unit on whole arrays, ``kernel(out, x, other, grad, gate_half, params,
    n_threads)``: x split along its last axis (other None; grad given in mode "backward")
    or the pair (x, other) (forward), C-contiguous of one native float dtype; gate_half 1:
    the gate is the second half or operand.  Returns out (a new array when None), or False,
    writing nothing, for any other call, an out that is not ready (C-contiguous, writeable,
    the result's shape and dtype) or that overlaps an input it is not."""
    check_available()
    return functools.partial(_module.gated_direct, _module.gated_slot(kernel_id, mode))


def _factory(attr: str, what: str):
    """The extension's kernel factory ``attr``; a clear error when this build lacks it."""
    check_available()
    factory = getattr(_module, attr, None)
    if factory is None:
        raise NotImplementedError(f"this build of fastact._kernels has no {what} kernels")
    return factory


def get_rowwise(op: str):
    """``kernel(out, x, grad, mask, n_threads)`` for a softmax-family op (2-D, last axis)."""
    return _factory("rowwise_kernel", "softmax-family")(op)


def get_loss(name: str):
    """The loss kernel ``name`` (contracts: ``fastact._numba.losses``)."""
    return _factory("loss_kernel", "loss")(name)


def config() -> dict:
    """Facts for show_config(): OpenMP, the vector ISA and flags of the loaded build."""
    if _module is None:
        return {"available": False, "reason": _import_error}
    info = dict(_module.build_info())
    info["variant"] = _variant
    info["variants_built"] = ["baseline"] + [lv for lv in reversed(_LEVELS) if _variant_path(lv)]
    info["module"] = _module.__file__
    info["openmp_wait_policy"] = describe_wait_policy()
    info["fork"] = "a fork()ed child runs the kernels serially (GNU OpenMP is not fork-safe)"
    return info


def warmup():
    """Nothing to compile at run time: the kernels are built ahead of time."""
    check_available()
