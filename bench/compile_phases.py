"""Where a cold first call of the Numba backend spends its CPU time, by compiler phase.

    python bench/compile_phases.py softmax 4x1000 [float32] [--names] [--axis=0]
    python bench/compile_phases.py softmax_backward 4x16

Runs one call (``fastact.<op>(x, backend="numba")`` on a float array of the given
shape; a backward op gets x as grad and y from NumPy) in this process with a new empty ``FASTACT_CACHE_DIR`` unless one is set, and
prints its CPU time split into Numba's and LLVM's phases (each phase's own time, the
phases it calls excluded), and the number of functions Numba compiled.  The phases are
measured by wrapping Numba's internal methods: a measuring tool, nothing imports it.
"""
from __future__ import annotations

import collections
import os
import sys
import tempfile
import time

import numpy as np

_totals: collections.Counter = collections.Counter()
_calls: collections.Counter = collections.Counter()
_stack: list = []


def _timed(cls, name, label):
    """Wrap cls.name so that its own CPU time (nested timed calls excluded) adds to label."""
    original = getattr(cls, name)

    def wrapper(*args, **kwargs):
        start = time.process_time()
        _stack.append(0.0)
        try:
            return original(*args, **kwargs)
        finally:
            inner = _stack.pop()
            spent = time.process_time() - start
            _totals[label] += spent - inner
            _calls[label] += 1
            if _stack:
                _stack[-1] += spent

    setattr(cls, name, wrapper)


def _instrument() -> list:
    from numba.core import caching, codegen, compiler, dispatcher, typed_passes

    _timed(codegen.CPUCodeLibrary, "_optimize_functions", "llvm function passes")
    _timed(codegen.CPUCodeLibrary, "_optimize_final_module", "llvm module passes (O3)")
    _timed(codegen.JITCodeLibrary, "_finalize_specific", "llvm machine code")
    _timed(typed_passes.NopythonTypeInference, "run_pass", "numba type inference")
    _timed(typed_passes.NativeLowering, "run_pass", "numba lowering")
    _timed(compiler.CompilerBase, "_compile_bytecode", "numba other passes")
    _timed(caching.Cache, "save_overload", "cache writes")
    compiled = []
    compile_one = dispatcher._FunctionCompiler.compile

    def counting(self, args, return_type):
        compiled.append(self.py_func.__qualname__)
        return compile_one(self, args, return_type)

    dispatcher._FunctionCompiler.compile = counting
    return compiled


def _forward_output(op, x, axis=-1):
    """y of the forward op of a backward op, by NumPy (nothing compiled)."""
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    y = e / e.sum(axis=axis, keepdims=True)
    return (np.log(y) if op.startswith("log_") else y).astype(x.dtype)


def main(argv) -> None:
    show_names = "--names" in argv
    axis = {"axis": int(a.split("=")[1]) for a in argv if a.startswith("--axis=")}
    argv = [a for a in argv if a != "--names" and not a.startswith("--axis=")]
    op = argv[0] if argv else "softmax"
    shape = tuple(int(v) for v in (argv[1] if len(argv) > 1 else "4x1000").split("x"))
    dtype = np.dtype(argv[2] if len(argv) > 2 else "float32")
    os.environ.setdefault("FASTACT_CACHE_DIR", tempfile.mkdtemp(prefix="fastact-phases-"))
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    import fastact

    compiled = _instrument()
    start = time.process_time()
    # a backward op (softmax_backward, log_softmax_backward): grad x and y computed by NumPy
    args = (x,) if not op.endswith("_backward") else (x, _forward_output(op, x, **axis))
    getattr(fastact, op)(*args, backend="numba", **axis)
    cpu = time.process_time() - start
    print(f"{op} {'x'.join(map(str, shape))} {dtype}: first call {cpu:.2f} s CPU, "
          f"{len(compiled)} functions compiled")
    for label, seconds in _totals.most_common():
        print(f"  {label:26s} {seconds:6.2f} s  ({_calls[label]} calls)")
    print(f"  {'other':26s} {cpu - sum(_totals.values()):6.2f} s")
    if show_names:
        for name, count in collections.Counter(compiled).most_common():
            print(f"    {count} {name}")


if __name__ == "__main__":
    main(sys.argv[1:])
