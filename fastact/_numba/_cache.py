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

:func:`linked` is for helpers that are only ever called from compiled code: they are
typed and lowered once per signature, but neither optimized as a module nor turned into
machine code nor cached on their own; the cached entry point that calls them links their
code in and optimizes it once.  (A plain ``njit`` helper is optimized and emitted on its
own and again inside every caller, so a call chain of depth d costs about d times the
code; cold compile time, docs/tuning.md.)  They have no Python wrapper: calling one from
Python is an error.  A ``prange`` region of a link-only function is link-only as well
(the gufunc and the two wrappers Numba builds for it): optimized once, in the entry.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading

from .. import __version__

_NUMBA_DIR = os.path.dirname(os.path.abspath(__file__))
_PACKAGE_DIR = os.path.dirname(_NUMBA_DIR)
_EXTRA_SOURCES = ("_constants.py", "_coefficients.py")
_state: dict = {}
# names of the libraries Numba 0.6x builds for a parfor region (its gufunc, the gufunc's
# wrapper, the threaded kernel calling that): made link-only inside a link-only function
_PARALLEL_REGION_LIBRARIES = ("__numba_parfor_gufunc_", "<numba.np.ufunc.wrappers._GufuncWrapper",
                              "parallelgufuncwrapper")


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


def _link_only_library_classes():
    """(LinkOnlyLibrary, OptimizedLinkOnlyLibrary): Numba code libraries without machine
    code (built once)."""
    classes = _state.get("link_only_libraries")
    if classes is not None:
        return classes
    from numba.core.codegen import JITCodeLibrary

    class LinkOnlyLibrary(JITCodeLibrary):
        """Finalized without module optimization or machine code: its module is linked
        into the libraries of its callers, whose own finalization optimizes it.  Its
        callees are linked in only then, each once (not into every link-only library of
        a call chain in turn)."""

        def _optimize_functions(self, ll_module):  # the caller's module optimization runs them
            ll_module.data_layout = self._codegen._data_layout

        def _optimize_final_module(self):
            pass

        def finalize(self):
            self._raise_if_finalized()
            for library in self._linking_libraries:
                self._reload_init.update(library._reload_init)
            self._finalized = True

        def _get_module_for_linking(self):
            """Its own code and the code of every library it links, directly or through
            other link-only libraries (each once), exported functions linkonce_odr."""
            self._ensure_finalized()
            if self._shared_module is None:
                mod = self._final_module.clone()
                for library in _linked_closure(self):
                    own = library._final_module if type(library) is LinkOnlyLibrary else \
                        library._get_module_for_linking()
                    mod.link_in(own, preserve=True)
                for fn in mod.functions:
                    if not fn.is_declaration and fn.linkage == ll_linkage.external:
                        fn.linkage = "linkonce_odr"
                self._shared_module = mod
            return self._shared_module

        def get_pointer_to_function(self, name):
            self._ensure_finalized()
            return 0  # no machine code (and no Python wrapper: never called from Python)

        @property
        def codegen(self):
            return _NoEnvironment(self._codegen)

    def _linked_closure(library):
        """The libraries linked by ``library`` and, through link-only ones, transitively
        (each once, ``library`` excluded)."""
        seen, order, todo = {id(library)}, [], list(library._linking_libraries)
        while todo:
            lib = todo.pop(0)
            if id(lib) in seen:
                continue
            seen.add(id(lib))
            order.append(lib)
            if type(lib) is LinkOnlyLibrary:
                todo.extend(lib._linking_libraries)
        return order

    class OptimizedLinkOnlyLibrary(LinkOnlyLibrary):
        """Optimized (function and module passes) as a cached function's library, with
        its callees linked in, so its loops are vectorized alone, in their own order;
        no machine code either."""

        def _optimize_functions(self, ll_module):
            JITCodeLibrary._optimize_functions(self, ll_module)

        def _optimize_final_module(self):
            JITCodeLibrary._optimize_final_module(self)

        def finalize(self):
            JITCodeLibrary.finalize(self)

        def _get_module_for_linking(self):
            return JITCodeLibrary._get_module_for_linking(self)

        def _finalize_final_module(self):
            self._finalized = True

    class _NoEnvironment:
        """The codegen, except that a link-only function's environment (used only by a
        Python wrapper, which it has not) is not set: it has no address."""

        def __init__(self, codegen):
            self._codegen = codegen

        def __getattr__(self, name):
            return getattr(self._codegen, name)

        def set_env(self, env_name, env):
            pass

    from llvmlite.binding import Linkage as ll_linkage

    _state["link_only_libraries"] = LinkOnlyLibrary, OptimizedLinkOnlyLibrary
    return _state["link_only_libraries"]


def _link_only_compiler_class(optimized=False):
    """A Numba compiler pipeline whose code library is link-only (built once per
    ``optimized``: the library's own module optimized alone first, as a cached
    function's is)."""
    cls = _state.get(("link_only_compiler", optimized))
    if cls is not None:
        return cls
    from numba.core.compiler import CompilerBase, DefaultPassBuilder
    from numba.core.compiler_machinery import register_pass
    from numba.core.typed_passes import NativeLowering, NativeParforLowering

    LinkOnlyLibrary, OptimizedLinkOnlyLibrary = _link_only_library_classes()
    library_class = OptimizedLinkOnlyLibrary if optimized else LinkOnlyLibrary

    @contextlib.contextmanager
    def parallel_regions_link_only(codegen):
        """Within: the libraries Numba builds for a parallel region (its gufunc and the
        gufunc's two wrappers, each linked only into the function of the region) are
        link-only as well (else each is optimized and emitted on its own, as a copy of
        the region's code)."""
        own = vars(codegen).get("create_library")
        create = codegen.create_library

        def create_library(name, **kwargs):
            if name.startswith(_PARALLEL_REGION_LIBRARIES):
                return LinkOnlyLibrary(codegen, name, **kwargs)
            return create(name, **kwargs)

        codegen.create_library = create_library
        try:
            yield
        finally:
            if own is None:
                del codegen.create_library
            else:
                codegen.create_library = own

    def link_only(lowering):
        """The lowering pass ``lowering`` building a :class:`LinkOnlyLibrary`."""

        class LinkOnly(lowering):
            _name = f"fastact_link_only{'_optimized' if optimized else ''}_{lowering._name}"

            def run_pass(self, state):
                if state.library is None:
                    state.library = library_class(state.targetctx.codegen(),
                                                  state.func_id.func_qualname)
                    state.library.enable_object_caching()
                if lowering is not NativeParforLowering:
                    return super().run_pass(state)
                with parallel_regions_link_only(state.targetctx.codegen()):
                    return super().run_pass(state)

        return register_pass(mutates_CFG=True, analysis_only=False)(LinkOnly)

    replaced = {NativeLowering: link_only(NativeLowering),
                NativeParforLowering: link_only(NativeParforLowering)}

    class LinkOnlyCompiler(CompilerBase):
        def define_pipelines(self):
            pm = DefaultPassBuilder.define_nopython_pipeline(self.state)
            pm.passes = [(replaced.get(p, p), d) for p, d in pm.passes]
            pm.finalize()
            return [pm]

    _state[("link_only_compiler", optimized)] = LinkOnlyCompiler
    return LinkOnlyCompiler


def link_only_options(optimized=False) -> dict:
    """Numba jit options of a link-only helper (see the module doc); also usable as an
    ``@overload``'s ``jit_options``."""
    try:
        pipeline = _link_only_compiler_class(optimized)
    except (ImportError, AttributeError):  # a Numba without these internals: plain compiles
        return {}
    return dict(pipeline_class=pipeline, no_cpython_wrapper=True, no_cfunc_wrapper=True)


def linked(optimized=False, **options):
    """``numba.njit(**options)`` for a helper called from compiled code only: link-only,
    not cached on its own (its callers' cache entries hold its code).  ``optimized``:
    its code is optimized alone first (as a cached function's), then linked as it is
    (a loop vectorized alone keeps its order of operations in every caller)."""
    from numba import njit

    return njit(cache=False, **options, **link_only_options(optimized))


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
