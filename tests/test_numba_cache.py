"""The Numba backend's one disk cache: every kernel under ``FASTACT_CACHE_DIR``
(nothing written inside the package), shown by ``fastact info``, and keyed by
all of the backend's sources so an edited helper can never load a stale kernel."""
from __future__ import annotations

import glob
import os
import shutil

import pytest

pytest.importorskip("numba")

from fastact._numba import _cache  # noqa: E402
from tests._subprocess import run_python  # noqa: E402

PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(_cache.__file__)))
NUMBA_CACHE_FILES = ("*.nbi", "*.nbc")


def numba_cache_files(root):
    found = set()
    for pattern in NUMBA_CACHE_FILES:
        found.update(glob.glob(os.path.join(root, "**", pattern), recursive=True))
    return found


def run_ok(code, env):
    code_, out, err = run_python(code, env=dict(os.environ, **env))
    assert code_ == 0, err[-3000:]
    return out


CALLS = """
import numpy as np, fastact
from fastact._numba import _cache
x = np.random.default_rng(0).standard_normal((80, 1000))  # 640 kB: threads for relu
fastact.relu(x[:2], backend="numba")                     # serial elementwise, on the pool
fastact._numba.WORK_POOL = False
fastact.relu(x[:2], backend="numba")                     # serial elementwise, Numba's driver
fastact.relu(x, backend="numba")                         # parallel elementwise, the layer's
fastact._numba.WORK_POOL = True
fastact.softmax(x, backend="numba")                      # rows on the work pool, if built
fastact.log_softmax(x[:4, :8], axis=0, backend="numba")  # softmax family, a non-last axis
from fastact._numba.softmax import _pool
print("DIR", _cache.cache_dir(), "POOL", _pool.parts_driver() is not None)
"""


def test_every_kernel_is_cached_under_the_cache_dir():
    # the session's cache root (FASTACT_CACHE_DIR or the default): a cold softmax-family
    # compilation in a fresh directory would take minutes
    before = numba_cache_files(PACKAGE)
    out = run_ok(CALLS, {})
    directory = out.split("DIR")[1].split()[0]
    root = os.environ.get("FASTACT_CACHE_DIR")
    if root:
        assert os.path.dirname(directory) == root
    assert os.path.basename(directory) == "numba-" + _cache.cache_key()
    names = {os.path.basename(p).split("-")[0] for p in numba_cache_files(directory)}
    assert {"k_relu_forward_float64.chunk", "_parallel.run_serial", "_parallel.drive",
            "_tasks.serial_entry.locals.run_serial"} <= names, names
    if "POOL True" in out:  # softmax ROWS float64 forward: its part function
        assert "sm_0_0_float64_f.chunk" in names, names
    assert numba_cache_files(PACKAGE) == before  # nothing written beside the sources


def test_a_fresh_cache_dir_gets_the_kernels_and_the_package_nothing(tmp_path):
    before = numba_cache_files(PACKAGE)
    out = run_ok(SMALL, {"FASTACT_CACHE_DIR": str(tmp_path)})
    directory = out.split("DIR")[1].split()[0]
    assert directory == str(tmp_path / ("numba-" + _cache.cache_key()))
    names = {os.path.basename(p).split("-")[0] for p in numba_cache_files(str(tmp_path))}
    assert {"k_relu_forward_float64.chunk", "_tasks.serial_entry.locals.run_serial"} <= names, names
    assert all(p.startswith(directory) for p in numba_cache_files(str(tmp_path)))
    assert numba_cache_files(PACKAGE) == before


def test_fastact_info_shows_the_cache_dir(tmp_path):
    out = run_ok("from fastact.cli import main; main(['info'])",
                 {"FASTACT_CACHE_DIR": str(tmp_path)})
    assert os.path.join(str(tmp_path), "numba-" + _cache.cache_key()) in out


def test_the_key_covers_every_backend_source_and_helper():
    files = {os.path.relpath(p, PACKAGE) for p in _cache.source_files()}
    assert os.path.join("_numba", "softmax", "_sums.py") in files
    assert os.path.join("_numba", "_formulas.py") in files
    assert {"_constants.py", "_coefficients.py"} <= files
    assert len(files) == len(_cache.source_files())


def test_an_edited_helper_changes_the_key(tmp_path):
    helpers = [tmp_path / "a.py", tmp_path / "b.py"]
    for p in helpers:
        p.write_text("X = 1\n")
    key = _cache.key_of(helpers, "v")
    helpers[1].write_text("X = 2\n")
    assert _cache.key_of(helpers, "v") != key
    helpers[1].write_text("X = 1\n")
    assert _cache.key_of(helpers, "v") == key
    assert _cache.key_of(helpers, "w") != key  # another fastact or Numba version


SMALL = """
import numpy as np
from fastact._numba import _cache, _factory
from fastact._numba.softmax import _plan, _rows, _tasks, get_rowwise
entry, address = _factory.compile_kernel("relu", "forward", "float64")
o = np.empty(3); entry(address, o, np.array([-1.0, 0.0, 2.0]), o, 0.0, 0.0)
chunk = _factory._chunks[("relu", "forward", "float64"), "cfunc"]
import fastact._numba as nb; nb.WORK_POOL = False  # Numba's own serial entry, not a pool part
p = np.empty((1, 2)); get_rowwise("softmax")(p, np.zeros((1, 2)), None, None, 1)
rows = _tasks.serial_entry(_rows.SOFTMAX, _plan.SHORT_ROWS)  # its helpers are linked into it
print("DIR", _cache.cache_dir(), "HITS", chunk.cache_hits,
      sum(rows.stats.cache_hits.values()), "OUT", o.tolist(), p.tolist() == [[0.5, 0.5]])
"""


def _copy_of_the_package(tmp_path):
    """A copy of the fastact sources (no build products) and the code to import it."""
    clone = tmp_path / "clone"
    shutil.copytree(PACKAGE, clone / "fastact",
                    ignore=shutil.ignore_patterns("*.so", "*.pyd", "*.c", "_isa", "__pycache__"))
    prelude = ("import sys\n"  # the copy, not the installed package
               "sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f).lower()]\n"
               f"sys.path.insert(0, {str(clone)!r})\n")
    return clone, prelude


def test_an_edited_helper_recompiles_instead_of_loading(tmp_path):
    # the entry point's own file is unchanged: Numba alone would load its stale entry
    clone, prelude = _copy_of_the_package(tmp_path)
    env = {"FASTACT_CACHE_DIR": str(tmp_path / "cache")}
    code, _, err = run_python(prelude + SMALL, env=dict(os.environ, **env), cwd=str(clone))
    assert code == 0, err[-3000:]
    for expected_hits in ("1 1", "0 0"):
        if expected_hits == "0 0":
            with open(clone / "fastact" / "_numba" / "softmax" / "_sums.py", "a") as f:
                f.write("\n# an edit of a helper module\n")
        code, out, err = run_python(prelude + SMALL, env=dict(os.environ, **env),
                                    cwd=str(clone))
        assert code == 0, err[-3000:]
        assert f"HITS {expected_hits} OUT [0.0, 0.0, 2.0] True" in out, out
    directories = sorted(os.listdir(tmp_path / "cache"))
    assert len(directories) == 2 and all(d.startswith("numba-") for d in directories)


def test_a_call_loads_only_what_it_needs():
    out = run_ok("""
        import sys, numpy as np, fastact
        fastact.gelu(np.ones(10, np.float32), backend="numba")
        from fastact._numba import _factory, _parallel, _pool_driver
        print("POOL", _pool_driver() is not None)
        print("ELEMENTWISE", "fastact._numba.softmax" in sys.modules, sorted(_parallel._drivers),
              sorted(k for k in _factory._chunks if k[-1] != "cfunc"),
              sorted(m for m in sys.modules if "_generated_" in m))
        fastact.softmax(np.ones((2, 3)), backend="numba")
        from fastact._numba.softmax import _tasks
        print("ROWS", _tasks.serial_entry.cache_info().currsize,
              _tasks.parallel_entry.cache_info().currsize,
              sorted(k[0] for k in _factory._chunks if k[-1] == "cfunc" and "softmax_part" in k[0]))
    """.replace("\n        ", "\n"), {})
    # one compiled loop (the C chunk function), run by the work pool's driver (the compiled
    # extension's) or else by Numba's serial driver; no parallel driver
    drivers = "[]" if "POOL True" in out else "[('run_serial', 'float32')]"
    assert (f"ELEMENTWISE False {drivers} [('gelu', 'forward', 'float32')] "
            "['fastact._numba._generated_gelu_forward_float32']") in out, out
    # the rows: the work pool's part function of softmax's short float64 rows, in the calling
    # thread, else Numba's own serial entry; no parallel entry either way
    from fastact._numba.softmax import _plan

    rows = (f"ROWS 0 0 [('softmax_part', 0, {_plan.SHORT_ROWS}, 'float64', 'f')]"
            if "POOL True" in out else "ROWS 1 0 []")
    assert rows in out, out


SOFTMAX_ONLY = """
import numpy as np, fastact
from numba.core import dispatcher
from fastact._numba.softmax import _plan, _rows, _tasks
compiled = []
compile_one = dispatcher._FunctionCompiler.compile
def counting(self, args, return_type):
    compiled.append(self.py_func.__qualname__)
    return compile_one(self, args, return_type)
dispatcher._FunctionCompiler.compile = counting
fastact._numba.WORK_POOL = {pool}
fastact.softmax(np.ones((2, 3), np.{dtype}), backend="numba")
from fastact._numba import _factory
from fastact._numba.softmax import _pool
entry = _tasks.serial_entry(_rows.SOFTMAX, _plan.{plan})
print("ENTRIES", _tasks.serial_entry.cache_info().currsize,
      _tasks.parallel_entry.cache_info().currsize,
      "HITS", sum(entry.stats.cache_hits.values()), "MISSES", sum(entry.stats.cache_misses.values()),
      "SIGNATURES", len(entry.signatures), "CALLEES", len(_rows.{rows}.overloads),
      "LONG", len(_rows.forward_rows.overloads), "COMPILED", len(compiled), sorted(compiled))
print("PARTS", _pool.parts_driver() is not None,
      sorted(k[0] for k in _factory._chunks if k[-1] == "cfunc" and "softmax_part" in k[0]))
"""


# float32 rows of n <= 16: the lanes (lane_rows, its kind's lane_rows_in), no pipelined
# short rows; float64: the pipelined short rows (short_rows, _short_rows_in), no lane code
@pytest.mark.parametrize("pool", [False, True], ids=["own entry", "pool part"])
@pytest.mark.parametrize("dtype, plan, rows, own", [
    ("float32", "SHORT_LANES", "lane_rows",
     ["_lane_rows_of_kind.<locals>.lane_rows_in", "lane_rows"]),
    ("float64", "SHORT_ROWS", "short_rows", ["_short_rows_in", "short_rows"])])
def test_a_softmax_call_compiles_and_loads_its_own_op_and_plan_only(tmp_path, dtype, plan, rows,
                                                                    own, pool):
    # cold: one cache entry is written, the short softmax rows' of its dtype (no long-row
    # code, no log op, no parallel region, no helper of its own, no other short-row code);
    # warm: that entry is loaded, nothing else is compiled or loaded.  Numba's own serial
    # entry: six functions are compiled (the entry, the plan's two row functions,
    # special_row, _softmax_term, expneg_scaled: the kind and plan choices compile nothing
    # of their own); on the work pool the entry is the plan's part function (``chunk``,
    # with Numba's carray) instead
    from fastact._numba.softmax import _plan

    env = {"FASTACT_CACHE_DIR": str(tmp_path)}
    code = SOFTMAX_ONLY.format(dtype=dtype, plan=plan, rows=rows, pool=pool)
    out = run_ok(code, env)
    if pool and "PARTS False" in out:
        pytest.skip("the compiled extension is not built: no work pool")
    part = f"sm_0_{getattr(_plan, plan)}_{dtype}_f"
    if pool:
        # (the serial entry's object is made by the print itself, never compiled)
        assert "ENTRIES 1 0 HITS 0 MISSES 0 SIGNATURES 0 CALLEES 1 LONG 0 COMPILED 7" in out, out
        names = sorted(["_softmax_term", "expneg_scaled", "chunk", "impl_carray.<locals>.impl",
                        "special_row", *own])
        assert f"PARTS True [('softmax_part', 0, {getattr(_plan, plan)}, '{dtype}', 'f')]" in out
    else:
        assert "ENTRIES 1 0 HITS 0 MISSES 1 SIGNATURES 1 CALLEES 1 LONG 0 COMPILED 6" in out, out
        names = sorted(["_softmax_term", "expneg_scaled", "serial_entry.<locals>.run_serial",
                        "special_row", *own])
    assert str(names) in out, out
    index = [os.path.basename(p).split("-")[0]
             for p in glob.glob(os.path.join(str(tmp_path), "**", "*.nbi"), recursive=True)]
    assert index == ([f"{part}.chunk"] if pool else ["_tasks.serial_entry.locals.run_serial"]), index
    out = run_ok(code, env)
    warm = ("ENTRIES 1 0 HITS 0 MISSES 0 SIGNATURES 0 CALLEES 0 LONG 0 COMPILED 0" if pool
            else "ENTRIES 1 0 HITS 1 MISSES 0 SIGNATURES 1 CALLEES 0 LONG 0 COMPILED 0")
    assert warm in out, out


PARALLEL_REGION = """
from numba import prange
from numba.core import codegen
import numpy as np
from fastact._numba._cache import jit, linked
optimized = []
optimize = codegen.CPUCodeLibrary._optimize_final_module
def recording(self):
    optimized.append(self.name)
    return optimize(self)
codegen.CPUCodeLibrary._optimize_final_module = recording

@linked(parallel=True)
def region(out, n_chunks):
    for c in prange(n_chunks):
        out[c] = c + 1.0

@jit()
def entry(out):
    region(out, out.size)

out = np.zeros(4)
entry(out)
print("OUT", out.tolist(), "OPTIMIZED", sorted(set(optimized)))
"""


def test_a_link_only_parallel_region_is_optimized_once_in_its_caller(tmp_path):
    # the gufunc Numba builds for the prange and its two wrappers are link-only: only
    # the cached entry's library is optimized (else each re-optimizes the region's code)
    out = run_ok(PARALLEL_REGION, {"FASTACT_CACHE_DIR": str(tmp_path)})
    assert "OUT [1.0, 2.0, 3.0, 4.0]" in out, out
    optimized = out.split("OPTIMIZED")[1]
    assert "entry" in optimized and "gufunc" not in optimized.lower(), optimized


SHORT_COLUMNS = """
import numpy as np, fastact
from fastact._numba.softmax import _rows, _tiles
x = np.arange(6, dtype=np.float32).reshape(3, 2)
got = fastact.softmax(x, axis=0, backend="numba")
print("SHORT", len(_rows.short_rows.overloads), "LONG", len(_rows.forward_row.overloads),
      "COPIES", len(_tiles._copy_columns.overloads))
want = fastact.softmax(np.ascontiguousarray(x.T), backend="numba").T  # SHORT_ROWS
print("SAME", got.tobytes() == want.tobytes())
"""


def test_a_non_last_axis_of_short_columns_compiles_the_short_rows_only(tmp_path):
    # the column tiles of unmasked columns of n <= SHORT_MAX run the short rows' code (as
    # their transposed rows do, the same bits) and no long-row code; the gather and the
    # scatter of a tile are one compilation
    out = run_ok(SHORT_COLUMNS, {"FASTACT_CACHE_DIR": str(tmp_path)})
    assert "SHORT 1 LONG 0 COPIES 1" in out and "SAME True" in out, out



LINK_CHAIN = """
import numpy as np
from numba.core import codegen
from fastact._numba._cache import jit, linked
optimized = []
optimize = codegen.CPUCodeLibrary._optimize_final_module
def recording(self):
    optimized.append(self.name.split(".")[-1])
    return optimize(self)
codegen.CPUCodeLibrary._optimize_final_module = recording

@linked()
def inc(x):
    return x + 1.0

@linked()
def twice_inc(x):
    return inc(x) * 2.0

@linked(optimized=True)
def total(a):
    s = 0.0
    for i in range(a.size):
        s += a[i]
    return s

@linked()
def both(x, a):
    return twice_inc(x) + inc(x) + total(a)

@jit()
def entry(x, a):
    return both(x, a) + twice_inc(x)

ours = {"inc", "twice_inc", "total", "both", "entry"}
print("OUT", entry(1.0, np.arange(3.0)), "OPTIMIZED", sorted(ours.intersection(optimized)))
"""


def test_link_only_helpers_reached_along_several_paths_link_into_their_caller(tmp_path):
    # inc is linked through twice_inc and directly, twice_inc through both and directly;
    # link-only helpers are optimized in the entry only, an optimized one (total) alone
    # first; the entry resolves every symbol once
    out = run_ok(LINK_CHAIN, {"FASTACT_CACHE_DIR": str(tmp_path)})
    assert "OUT 13.0 OPTIMIZED ['entry', 'total']" in out, out
