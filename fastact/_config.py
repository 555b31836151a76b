"""What fastact runs on here: versions, CPU vector ISA, backends, threads."""
from __future__ import annotations

import glob
import importlib.machinery
import os
import platform
import sys
from typing import Any, Optional, TextIO

from . import _backends


def cpu_isa() -> str:
    """The widest x86 vector extension this CPU offers (as NumPy detects it)."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as feats
    except ImportError:  # pragma: no cover - older NumPy layout
        from numpy.core._multiarray_umath import __cpu_features__ as feats
    for isa in ("AVX512F", "AVX2", "AVX", "SSE42", "ASIMD", "NEON"):
        if feats.get(isa):
            return isa
    return "baseline"


def config() -> dict[str, Any]:
    """Everything ``show_config()`` prints, as a dict (for ``--json`` reports)."""
    import numpy as np

    from . import __version__

    backends = {}
    for name in _backends.BACKEND_MODULES:
        try:
            module = _backends.load(name)
            backends[name] = {"available": True, **module.config()}
        except _backends.BackendUnavailable:
            backends[name] = {"available": False, "reason": _backends.unavailable().get(name)}
    return {
        "fastact": __version__,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": _cpu_name(),
        "cpu_isa": cpu_isa(),
        "num_threads": _backends.get_num_threads(),
        "backend": _backends.get_backend(),
        "backends": backends,
        "source_tree": source_tree_warning(),
    }


def source_tree_warning() -> Optional[str]:
    """Why the cython backend is missing when fastact is imported from an unbuilt clone, and
    what to do (None otherwise): Python started inside a clone imports its ``fastact/``
    folder, which has no compiled extension unless it was installed with ``pip install -e .``."""
    package = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(package)
    if not any(os.path.exists(os.path.join(root, f)) for f in ("setup.py", "pyproject.toml")):
        return None
    built = [p for suffix in importlib.machinery.EXTENSION_SUFFIXES
             for p in glob.glob(os.path.join(package, "**", "_kernels" + suffix), recursive=True)]
    if built or "cython" not in _backends.unavailable():
        return None
    return (f"fastact is imported from its unbuilt source tree {root} (Python was started "
            f"inside the clone, or the clone is on sys.path), so the compiled cython backend is "
            f"missing. Either install it with `pip install .` and run Python from outside the "
            f"clone, or build it in place with `pip install -e .` in {root}.")


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def show_config(file: Optional[TextIO] = None) -> None:
    """Print versions, CPU ISA, thread count, every backend's status and, when fastact is
    imported from an unbuilt clone, what to do."""
    cfg = config()
    out = file or sys.stdout
    for key in ("fastact", "python", "numpy", "platform", "processor", "cpu_isa", "num_threads",
                "backend"):
        print(f"{key:>12}: {cfg[key]}", file=out)
    print("    backends:", file=out)
    for name, info in cfg["backends"].items():
        if info["available"]:
            facts = ", ".join(f"{k}={v}" for k, v in info.items() if k != "available")
            print(f"      {name:<7} available ({facts})", file=out)
        else:
            print(f"      {name:<7} unavailable: {info['reason']}", file=out)
    if cfg["source_tree"]:
        print(f"     WARNING: {cfg['source_tree']}", file=out)
