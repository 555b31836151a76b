"""The public API: names from the registry, aliases, get(), backend selection and
its isolation, threads, configuration, import hygiene, docstrings, __all__."""
import inspect
import io
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import fastact
from fastact import _backends
from fastact._registry import ACTIVATIONS, ALIASES, BY_NAME, GATED, ROW_OPS
from tests._arrays import CASES, base_values

API_NAMES = {"Activation", "accuracy_report", "activations", "backward", "backends", "config", "derivative", "get",
             "get_backend", "get_num_threads", "set_backend", "set_num_threads", "show_config",
             "threads", "use_backend", "cross_entropy",
             "binary_cross_entropy_with_logits", "get_include", "get_compile_args"}


def _python(code, env=None, timeout=120):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=e,
                          timeout=timeout)


def test_activations_match_registry():
    assert fastact.activations() == [a.name for a in ACTIVATIONS]
    for name in fastact.activations():
        assert callable(getattr(fastact, name)) and name in fastact.__all__


def test_all_is_complete():
    gated = {n for g in GATED for n in (g.name, f"{g.name}_backward")}
    expected = (set(fastact.activations()) | set(ALIASES) | {op.name for op in ROW_OPS} | API_NAMES
                | gated)
    assert set(fastact.__all__) == expected
    assert len(fastact.__all__) == len(set(fastact.__all__))
    for name in fastact.__all__:
        assert hasattr(fastact, name), name
    public = {n for n, v in vars(fastact).items()
              if not n.startswith("_") and not inspect.ismodule(v) and n != "annotations"}
    assert public <= set(fastact.__all__) | {"__version__"}, public - set(fastact.__all__)


def test_aliases_are_the_same_functions():
    x = np.linspace(-5, 5, 41)
    for alias, name in ALIASES.items():
        assert getattr(fastact, alias) is getattr(fastact, name)
        assert np.array_equal(fastact.derivative(alias, x), fastact.derivative(name, x))
        assert fastact.get(alias) == fastact.get(name)
        assert fastact.get(alias).name == name


def test_names_are_case_insensitive_in_lookup():
    x = np.linspace(-2, 2, 5)
    name = ACTIVATIONS[1].name
    assert np.array_equal(fastact.derivative(name.upper(), x), fastact.derivative(name, x))


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_get_objects(case, backend):
    act = fastact.get(case.name, **case.kwargs)
    assert act.name == case.name
    assert act.params == case.kwargs
    x = base_values(np.float64, case)
    fn = getattr(fastact, case.name)
    want = fn(x, backend=backend, **case.kwargs)
    assert np.array_equal(act(x, backend=backend), want, equal_nan=True)
    assert np.array_equal(act.forward(x, backend=backend), want, equal_nan=True)
    d = fastact.derivative(case.name, x, backend=backend, **case.kwargs)
    assert np.array_equal(act.derivative(x, backend=backend), d, equal_nan=True)
    g = np.linspace(-1, 1, x.size)
    bx = fastact.backward(case.name, g, x, backend=backend, **case.kwargs)
    assert np.array_equal(act.backward(g, x, backend=backend), bx, equal_nan=True)
    assert np.array_equal(act.backward(g, x=x, backend=backend), bx, equal_nan=True)
    assert act.accepts_y == case.accepts_y
    if case.accepts_y:
        y = act(x, backend=backend)
        by = fastact.backward(case.name, g, y=y, backend=backend, **case.kwargs)
        assert np.array_equal(act.backward(g, y=y, backend=backend), by, equal_nan=True)
    else:
        with pytest.raises(ValueError):
            act.backward(g, y=x)
    # repr round-trips, equality and hashing follow the bound parameters
    again = eval(repr(act), {"fastact": fastact})
    assert again == act and hash(again) == hash(act)
    out = np.empty_like(x)
    assert act(x, out=out, backend=backend) is out


SAME_AS = [pytest.param(e, id=e.name) for e in ACTIVATIONS if e.same_as is not None]


@pytest.mark.parametrize("entry", SAME_AS)
def test_values_that_make_an_activation_another_run_its_kernels(entry, backend):
    """swish at beta = 1 is silu: the dispatch selects silu's kernel (no parameters) and
    every mode, with and without bias, gives silu's bits; other values keep their own."""
    other, kw = fastact.get(entry.same_as.activation), dict(entry.same_as.values)
    other_entry = BY_NAME[other.name]
    assert entry.resolve(entry.bind((), kw)) == other_entry.resolve(other_entry.bind((), {}))
    assert entry.resolve(entry.bind((), kw), exact=True)[0] == entry.name
    assert entry.resolve(entry.bind((), {k: v + 1.0 for k, v in kw.items()}))[0] == entry.name
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        x = (rng.standard_normal((8, 300)) * 8).astype(dtype)
        x.flat[:5] = [np.nan, np.inf, -np.inf, -0.0, 1e-40]
        g, b = rng.standard_normal(x.shape).astype(dtype), rng.standard_normal(300).astype(dtype)
        f = fastact.get(entry.name, **kw)
        pairs = [(f(x, backend=backend), other(x, backend=backend)),
                 (f.derivative(x, backend=backend), other.derivative(x, backend=backend)),
                 (f.backward(g, x, backend=backend), other.backward(g, x, backend=backend)),
                 (getattr(fastact, entry.name)(x, bias=b, backend=backend, **kw),
                  getattr(fastact, other.name)(x, bias=b, backend=backend))]
        for got, want in pairs:
            assert got.dtype == want.dtype and np.array_equal(got.view(np.uint8),
                                                              want.view(np.uint8))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threshold", [20.0, 5.0])
def test_softplus_at_beta_one_has_the_bits_of_the_general_formula(dtype, threshold, backend):
    """softplus's loops run a copy for beta = 1 (registry ``unit_first_param``), which must
    keep the general formula's bits: max(x, 0) + log1p(e^-|x|), i.e. -logsigmoid(-x) up to
    the sign of a zero, and x above the threshold."""
    assert "softplus" in BY_NAME["softplus"].unit_first_param
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.standard_normal(20000) * 30, np.linspace(-120.0, 40.0, 20001),
                        [0.0, -0.0, 1e-40, -1e-40, 5e-324, 19.99, 20.0, 20.01]]).astype(dtype)
    got = fastact.softplus(x, beta=1.0, threshold=threshold, backend=backend)
    want = np.where(x > threshold, x, -fastact.logsigmoid(-x, backend=backend) + dtype(0.0))
    assert np.array_equal(got.view(np.uint8), want.view(np.uint8))
    g = rng.standard_normal(x.size).astype(dtype)
    d = fastact.get("softplus", beta=1.0, threshold=threshold)
    assert np.array_equal(d.backward(g, x, backend=backend), g * d.derivative(x, backend=backend))


def test_positional_parameters_in_generated_functions():
    for a in ACTIVATIONS:
        sig = inspect.signature(getattr(fastact, a.name))
        names = list(sig.parameters)
        assert names[0] == "x" and names[1:1 + len(a.params)] == list(a.param_names)
        assert sig.parameters["out"].kind is inspect.Parameter.KEYWORD_ONLY
        assert sig.parameters["backend"].kind is inspect.Parameter.KEYWORD_ONLY
        for p in a.params:
            if p.default is not fastact._registry.REQUIRED:
                assert sig.parameters[p.name].default == p.default


@pytest.mark.parametrize("entry", [a for a in ACTIVATIONS if a.params], ids=lambda a: a.name)
def test_bind_places_each_parameter_and_keeps_the_others_defaults(entry):
    """bind((), {name: v}) puts v at the parameter's position, every other at its default;
    positional values first; a name twice, a name it lacks, too many values: TypeErrors."""
    defaults = tuple(p.default for p in entry.params)
    assert entry.bind((), {}) is entry.bind((), {})
    for i, p in enumerate(entry.params):
        marker = object()
        assert entry.bind((), {p.name: marker}) == (*defaults[:i], marker, *defaults[i + 1:])
    args = tuple(object() for _ in entry.params)
    assert entry.bind(args, {}) == args
    assert entry.bind(args[:1], {}) == (args[0], *defaults[1:])
    with pytest.raises(TypeError, match="multiple values"):
        entry.bind(args[:1], {entry.params[0].name: 1.0})
    with pytest.raises(TypeError, match="unexpected parameter 'nope'"):
        entry.bind((), {"nope": 1.0})
    with pytest.raises(TypeError, match="at most"):
        entry.bind((*args, 1.0), {})


def test_docstrings_contain_the_formulas():
    for a in ACTIVATIONS:
        doc = getattr(fastact, a.name).__doc__
        assert a.formula in doc and a.derivative_formula in doc, a.name
        for p in a.params:
            assert p.name in doc
    for op in ROW_OPS:
        assert op.formula in getattr(fastact, op.name).__doc__
    for fn in (fastact.derivative, fastact.backward, fastact.get, fastact.activations,
               fastact.set_backend, fastact.get_backend, fastact.use_backend,
               fastact.set_num_threads, fastact.get_num_threads, fastact.show_config,
               fastact.backends):
        assert fn.__doc__ and len(fn.__doc__) > 20, fn


# ------------------------------------------------------------------ backends
def test_backends_list():
    names = fastact.backends()
    assert "numpy" in names
    assert set(names) <= set(_backends.BACKEND_MODULES)


def test_required_backends_present():
    """FASTACT_REQUIRE_BACKENDS=numba,cython (set in CI) makes a missing backend a failure."""
    wanted = [n for n in os.environ.get("FASTACT_REQUIRE_BACKENDS", "").split(",") if n]
    missing = {n: _backends.unavailable().get(n) for n in wanted if n not in fastact.backends()}
    assert not missing, f"required backends unavailable: {missing}"


def test_set_get_backend_returns_previous():
    start = fastact.get_backend()
    for name in fastact.backends() + ["auto"]:
        prev = fastact.set_backend(name)
        assert fastact.get_backend() == name
        fastact.set_backend(prev)
        assert fastact.get_backend() == prev
    assert fastact.get_backend() == start


def test_backend_argument_and_context(backend):
    x = np.linspace(-3, 3, 13)
    default = fastact.get_backend()
    want = fastact.tanh(x, backend=backend)
    with fastact.use_backend(backend) as name:
        assert name == backend
        assert fastact.get_backend() == backend
        assert np.array_equal(fastact.tanh(x), want)
        with fastact.use_backend("numpy"):
            assert fastact.get_backend() == "numpy"
        assert fastact.get_backend() == backend
    assert fastact.get_backend() == default  # the process default is untouched by the block


def test_use_backend_restores_after_exception():
    before = fastact.get_backend()
    with pytest.raises(KeyError):
        with fastact.use_backend("numpy"):
            raise KeyError
    assert fastact.get_backend() == before


def test_use_backend_is_thread_local():
    """A use_backend() block in one thread is invisible to others (and to new threads)."""
    default = fastact.get_backend()
    seen = {}
    inside = threading.Event()
    release = threading.Event()

    def worker():
        with fastact.use_backend("numpy"):
            seen["worker"] = fastact.get_backend()
            inside.set()
            release.wait(30)
        seen["worker_after"] = fastact.get_backend()

    t = threading.Thread(target=worker)
    t.start()
    assert inside.wait(30)
    other = [n for n in fastact.backends() + ["auto"] if n != "numpy"][0]
    with fastact.use_backend(other):
        seen["main"] = fastact.get_backend()
        child = {}
        t2 = threading.Thread(target=lambda: child.setdefault("b", fastact.get_backend()))
        t2.start()
        t2.join()
    release.set()
    t.join()
    assert seen["worker"] == "numpy" and seen["worker_after"] == default
    assert seen["main"] == other
    assert child["b"] == default  # a new thread starts from the process default
    assert fastact.get_backend() == default


def test_auto_backend_works():
    x = np.linspace(-3, 3, 13)
    assert np.allclose(fastact.sigmoid(x, backend="auto"), 1 / (1 + np.exp(-x)))


# ------------------------------------------------------------------ threads
def test_set_num_threads_returns_previous():
    start = fastact.get_num_threads()
    assert isinstance(start, int) and start >= 1
    assert fastact.set_num_threads(1) == start
    assert fastact.get_num_threads() == 1
    assert fastact.set_num_threads(np.int64(2)) == 1
    assert fastact.get_num_threads() == min(2, start)
    assert fastact.set_num_threads(start) == min(2, start)


def test_num_threads_env_variable():
    r = _python("import fastact; print(fastact.get_num_threads())",
                env={"FASTACT_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "1"
    r = _python("import warnings, fastact, os; print(fastact.get_num_threads(), "
                "len(os.sched_getaffinity(0)))", env={"FASTACT_NUM_THREADS": "zero"})
    assert r.returncode == 0, r.stderr
    n, cores = r.stdout.split()
    assert n == cores
    assert "FASTACT_NUM_THREADS" in r.stderr  # a warning says why it was ignored


def test_threads_setting_changes_nothing_numerically(backend):
    x = np.random.default_rng(3).standard_normal(5000)
    a = fastact.gelu(x, backend=backend)
    fastact.set_num_threads(1)
    assert np.array_equal(fastact.gelu(x, backend=backend), a)


# ------------------------------------------------------------------ config / import
def test_show_config_runs():
    buf = io.StringIO()
    fastact.show_config(file=buf)
    text = buf.getvalue()
    for name in _backends.BACKEND_MODULES:
        assert name in text
    assert "num_threads" in text
    cfg = fastact.config()
    assert cfg["num_threads"] == fastact.get_num_threads()
    assert set(cfg["backends"]) == set(_backends.BACKEND_MODULES)
    for name in fastact.backends():
        assert cfg["backends"][name]["available"]


def test_show_config_prints_to_stdout(capsys):
    fastact.show_config()
    assert "backends" in capsys.readouterr().out


def test_import_is_lean():
    """import fastact must not import numba or scipy (or any backend), nor the optional
    array libraries (dask, xarray, ml_dtypes) or threadpoolctl."""
    code = ("import sys, fastact; "
            "heavy = [m for m in ('numba', 'scipy', 'llvmlite', 'torch', 'jax', 'onnxruntime', "
            "'onnx', 'numexpr', 'mpmath', 'fastact._numba', "
            "'fastact._cython', 'fastact._kernels', 'fastact.ufuncs', 'dask', 'xarray', "
            "'ml_dtypes', 'threadpoolctl') if m in sys.modules]; print(heavy)")
    r = _python(code)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]", r.stdout


def test_version():
    assert isinstance(fastact.__version__, str) and fastact.__version__.count(".") >= 1
