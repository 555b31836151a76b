"""What fastact runs on here: versions, CPU vector ISA, backends, threads."""
from __future__ import annotations

import platform
import sys

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


def config() -> dict:
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
    }


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def show_config(file=None) -> None:
    """Print versions, CPU ISA, thread count and every backend's status."""
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
