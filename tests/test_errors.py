"""Every error: a TypeError/ValueError with a message a user can
act on, raised before anything is written (every array is left unchanged)."""
import re

import numpy as np
import pytest

import fastact
from fastact import _backends
from fastact._registry import ACTIVATIONS, ALIASES, REQUIRED
from tests._arrays import KERNEL_CASES, ROW_OP_NAMES

FIRST = ACTIVATIONS[0].name  # any activation; the errors do not depend on which


def _arrays():
    rng = np.random.default_rng(0)
    return {"x": rng.standard_normal((4, 5)), "grad": rng.standard_normal((4, 5)),
            "out": np.full((4, 5), 7.0)}


def _misspell(name):
    return name + "q"


# (label, call(arrays, backend), exception, regex the message must match)
ERRORS = [
    # unknown names
    *[(f"unknown name {_misspell(a.name)!r}",
       (lambda n: lambda A, b: fastact.derivative(_misspell(n), A["x"], backend=b))(a.name),
       ValueError, rf"(?s)unknown activation.*Did you mean '{re.escape(a.name)}'.*Valid names")
      for a in ACTIVATIONS if len(a.name) > 4],
    ("unknown name in get()", lambda A, b: fastact.get("no_such_thing"), ValueError,
     r"Valid names"),
    ("unknown name in backward()", lambda A, b: fastact.backward("rellu", A["grad"], A["x"],
                                                                backend=b), ValueError, r"relu"),
    ("name not a string", lambda A, b: fastact.derivative(3, A["x"], backend=b), TypeError,
     r"string"),
    # parameters
    ("unexpected parameter (derivative)",
     lambda A, b: fastact.derivative(FIRST, A["x"], backend=b, no_such_param=1.0), TypeError,
     r"unexpected parameter 'no_such_param'"),
    ("unexpected parameter (get)", lambda A, b: fastact.get(FIRST, no_such_param=1.0), TypeError,
     r"no_such_param"),
    ("unexpected keyword (generated function)",
     lambda A, b: getattr(fastact, FIRST)(A["x"], no_such_param=1.0, backend=b), TypeError,
     r"no_such_param"),
]

for a in ACTIVATIONS:
    for p in a.params:
        if p.choices:
            ERRORS.append((f"{a.name}: bad choice for {p.name}",
                           (lambda a, p: lambda A, b: fastact.derivative(
                               a.name, A["x"], backend=b, **{p.name: "no-such-choice"}))(a, p),
                           ValueError, rf"{p.name} must be one of"))
            continue
        for bad, exc, msg in [("1.0", TypeError, "real number"), (None, TypeError, "real number"),
                              (True, TypeError, "real number"), (float("nan"), ValueError, "finite"),
                              (float("inf"), ValueError, "finite"), (1 + 2j, TypeError, "real")]:
            def call(A, b, a=a, p=p, bad=bad):
                kw = {q.name: 0.5 for q in a.params if q.default is REQUIRED}
                kw[p.name] = bad
                return fastact.backward(a.name, A["grad"], A["x"], backend=b, **kw)
            ERRORS.append((f"{a.name}: {p.name}={bad!r}", call, exc, rf"{p.name}.*{msg}"))
        if p.check is not None:
            def call(A, b, a=a, p=p):
                kw = {q.name: 0.5 for q in a.params if q.default is REQUIRED}
                for v in (0.0, -1.0, 1.0):
                    if not p.check(v):
                        kw[p.name] = v
                        break
                return getattr(fastact, a.name)(A["x"], out=A["out"], backend=b, **kw)
            ERRORS.append((f"{a.name}: {p.name} breaks its rule", call, ValueError,
                           rf"{p.name} {re.escape(p.rule)}"))
    required = [p.name for p in a.params if p.default is REQUIRED]
    if required:
        ERRORS.append((f"{a.name}: missing {required[0]}",
                       (lambda a: lambda A, b: fastact.derivative(a.name, A["x"], backend=b))(a),
                       TypeError, rf"missing required parameter '{required[0]}'"))

ERRORS += [
    ("hardtanh min_val > max_val",
     lambda A, b: fastact.hardtanh(A["x"], min_val=2.0, max_val=1.0, out=A["out"], backend=b),
     ValueError, r"min_val must not exceed max_val"),
    # dtypes
    *[(f"x dtype {dt}", (lambda dt: lambda A, b: fastact.derivative(
        FIRST, np.zeros(3, dt), backend=b))(dt), TypeError, rf"dtype {re.escape(str(np.dtype(dt)))}")
      for dt in (np.complex64, np.complex128, object, "U3", "S3", "datetime64[s]",
                 "timedelta64[s]", np.longdouble, [("a", "f8")])],
    ("complex python scalar", lambda A, b: getattr(fastact, FIRST)(1 + 2j, backend=b), TypeError,
     "complex"),
    ("string input", lambda A, b: getattr(fastact, FIRST)("abc", backend=b), TypeError, "dtype"),
    ("ragged list", lambda A, b: getattr(fastact, FIRST)([[1.0], [1.0, 2.0]], backend=b),
     ValueError, r""),
    ("grad complex", lambda A, b: fastact.backward(FIRST, A["grad"].astype(complex), A["x"],
                                                   out=A["out"], backend=b), TypeError, "grad"),
    ("softmax complex", lambda A, b: fastact.softmax(A["x"].astype(complex), out=A["out"],
                                                     backend=b), TypeError, "complex"),
    # out=
    ("out wrong shape", lambda A, b: getattr(fastact, FIRST)(A["x"], out=A["out"][:, :3],
                                                             backend=b), ValueError, r"shape"),
    ("out wrong dtype", lambda A, b: getattr(fastact, FIRST)(A["x"], out=A["out"].astype(
        np.float32), backend=b), TypeError, r"dtype"),
    ("out float64 for float16", lambda A, b: getattr(fastact, FIRST)(
        A["x"].astype(np.float16), out=A["out"], backend=b), TypeError, r"dtype"),
    ("out read-only", lambda A, b: getattr(fastact, FIRST)(A["x"], out=_readonly(A["out"]),
                                                           backend=b), ValueError, r"read-only"),
    ("out a list", lambda A, b: getattr(fastact, FIRST)(A["x"], out=[0.0] * 20, backend=b),
     TypeError, r"out must be a numpy.ndarray"),
    ("out wrong shape (derivative)", lambda A, b: fastact.derivative(
        FIRST, A["x"], out=A["out"].T, backend=b), ValueError, r"shape"),
    ("out wrong shape (backward)", lambda A, b: fastact.backward(
        FIRST, A["grad"], A["x"], out=A["out"].ravel(), backend=b), ValueError, r"shape"),
    ("out wrong shape (softmax)", lambda A, b: fastact.softmax(A["x"], out=A["out"][:2],
                                                               backend=b), ValueError, "shape"),
    ("out wrong shape (logsumexp)", lambda A, b: fastact.logsumexp(A["x"], out=A["out"],
                                                                   backend=b), ValueError, "shape"),
    ("out read-only (softmax)", lambda A, b: fastact.softmax(A["x"], out=_readonly(A["out"]),
                                                             backend=b), ValueError, "read-only"),
    # backward / y=
    ("backward without x or y", lambda A, b: fastact.backward(FIRST, A["grad"], backend=b),
     TypeError, r"x= or output y="),
    ("grad shape mismatch", lambda A, b: fastact.backward(FIRST, A["grad"][:, :3], A["x"],
                                                          backend=b), ValueError, r"broadcast"),
    # softmax family
    ("axis out of range", lambda A, b: fastact.softmax(A["x"], axis=2, backend=b), ValueError,
     r"axis"),
    ("axis a float", lambda A, b: fastact.log_softmax(A["x"], axis=1.0, backend=b), TypeError,
     r"axis"),
    ("where not boolean", lambda A, b: fastact.softmax(A["x"], where=A["x"] > 0.5 + 0,
                                                       backend=b) if False else fastact.softmax(
        A["x"], where=np.ones((4, 5)), backend=b), TypeError, r"boolean"),
    ("where does not broadcast", lambda A, b: fastact.softmax(A["x"], where=np.ones(3, bool),
                                                              backend=b), ValueError, r"broadcast"),
    ("softmax_backward shapes", lambda A, b: fastact.softmax_backward(A["grad"][:2], A["x"],
                                                                      backend=b), ValueError,
     r"shape"),
]

for a in ACTIVATIONS:
    if a.from_y is None:
        ERRORS.append((f"{a.name}: y= although f' needs x",
                       (lambda a: lambda A, b: fastact.backward(
                           a.name, A["grad"], y=A["x"], out=A["out"], backend=b,
                           **{p.name: 0.5 for p in a.params if p.default is REQUIRED}))(a),
                       ValueError, r"cannot use y=.*pass the forward input x="))
    else:
        for ex in a.examples:
            vals = a.bind((), dict(ex))
            if not a.accepts_y(vals):
                ERRORS.append((f"{a.name}{ex}: y= not allowed for these parameters",
                               (lambda a, ex: lambda A, b: fastact.backward(
                                   a.name, A["grad"], y=A["x"], out=A["out"], backend=b,
                                   **ex))(a, dict(ex)),
                               ValueError, r"cannot use y= for these parameters"))


def _readonly(a):
    a.flags.writeable = False
    return a


@pytest.mark.parametrize("label, call, exc, pattern", ERRORS, ids=[e[0] for e in ERRORS])
def test_error(label, call, exc, pattern, backend):
    A = _arrays()
    before = {k: v.copy() for k, v in A.items()}
    with pytest.raises(exc) as info:
        call(A, backend)
    assert re.search(pattern, str(info.value)), f"{label}: unhelpful message {str(info.value)!r}"
    for k in A:
        assert np.array_equal(A[k], before[k]), f"{label}: {k} was modified"


# ------------------------------------------------------------------- backends
def test_unknown_backend_lists_available():
    x = np.ones(3)
    for call in (lambda: fastact.relu(x, backend="nope"), lambda: fastact.set_backend("nope"),
                 lambda: fastact.use_backend("nope").__enter__(),
                 lambda: fastact.softmax(x, backend="nope")):
        with pytest.raises(ValueError) as info:
            call()
        msg = str(info.value)
        assert "nope" in msg
        for name in fastact.backends():
            assert name in msg, msg
    with pytest.raises(TypeError):
        fastact.set_backend(3)
    with pytest.raises(TypeError):
        fastact.relu(x, backend=3)


def test_unavailable_backend_says_why(monkeypatch):
    """A backend that fails to load names the reason and the available ones."""
    monkeypatch.setitem(_backends.BACKEND_MODULES, "broken", "fastact._no_such_module_here")
    monkeypatch.setattr(_backends, "_failed", dict(_backends._failed))
    x = np.ones(3)
    before = x.copy()
    with pytest.raises((RuntimeError, ValueError)) as info:
        fastact.relu(x, backend="broken", out=x)
    msg = str(info.value)
    assert "broken" in msg and "not available" in msg and "_no_such_module_here" in msg, msg
    for name in fastact.backends():
        assert name in msg
    assert np.array_equal(x, before)
    assert "broken" not in fastact.backends()


def test_real_unavailable_backends_raise_cleanly():
    for name, why in _backends.unavailable().items():
        with pytest.raises((RuntimeError, ValueError)) as info:
            fastact.set_backend(name)
        assert why.split(":")[0] in str(info.value)
        with pytest.raises((RuntimeError, ValueError)):
            fastact.relu(np.ones(2), backend=name)


def test_num_threads_validation():
    for bad, exc in [(0, ValueError), (-2, ValueError), ("2", TypeError), (2.5, TypeError),
                     (True, TypeError), (None, TypeError)]:
        before = fastact.get_num_threads()
        with pytest.raises(exc):
            fastact.set_num_threads(bad)
        assert fastact.get_num_threads() == before


@pytest.mark.parametrize("op", ROW_OP_NAMES)
def test_rowwise_bad_dtypes(op, backend):
    fn = getattr(fastact, op)
    for dt in (np.complex128, object, "U2"):
        bad = np.zeros((2, 3), dt)
        with pytest.raises(TypeError, match="dtype"):
            fn(bad, bad, backend=backend) if op.endswith("_backward") else fn(bad, backend=backend)


def test_every_kernel_rejects_complex(backend):
    for case in KERNEL_CASES:
        with pytest.raises(TypeError, match="complex"):
            fastact.get(case.name, **case.kwargs)(np.ones(3, complex), backend=backend)


def test_aliases_resolve_in_errors():
    for alias in ALIASES:
        fastact.get(alias)  # no error


# ------------------------------------------------------- names users try first
def test_get_of_a_softmax_family_name_points_to_its_function():
    for name in ("softmax", "Log_Softmax", "logsumexp"):
        with pytest.raises(ValueError, match=rf"fastact\.{name.lower()}\(x, axis="):
            fastact.get(name)


def test_backend_names_are_case_insensitive(backend):
    x = np.linspace(-2, 2, 7)
    expected = fastact.relu(x, backend=backend)
    for spelled in (backend.upper(), backend.capitalize(), f" {backend} "):
        assert np.array_equal(fastact.relu(x, backend=spelled), expected)
        with fastact.use_backend(spelled):
            assert fastact.get_backend() == backend
    previous = fastact.set_backend(backend.upper())
    assert fastact.get_backend() == backend
    fastact.set_backend(previous)
    with pytest.raises(ValueError, match="unknown backend"):
        fastact.relu(x, backend="NUMBAA")


def test_backward_with_both_x_and_y_is_an_error(backend):
    x = np.linspace(-2, 2, 7)
    with pytest.raises(TypeError, match="not both"):
        fastact.backward("sigmoid", np.ones(7), x, y=fastact.sigmoid(x), backend=backend)
    with pytest.raises(TypeError, match="not both"):
        fastact.get("tanh").backward(np.ones(7), x=x, y=np.tanh(x), backend=backend)


def test_backward_without_grad_is_an_error(backend):
    x = np.linspace(-2, 2, 2000)  # past the Numba backend's in-place tile threshold too
    for kwargs in ({"x": x}, {"y": x}):
        with pytest.raises(TypeError, match="grad must be an array"):
            fastact.backward("relu", None, backend=backend, **kwargs)


def test_defaults_passed_by_value_and_bools_take_the_checked_path(backend):
    """A parameter equal to its default but another object takes the checked path: the
    resolved defaults are found by identity, and True is never the default 1.0."""
    x = np.linspace(-3, 3, 13)
    assert np.array_equal(fastact.hardtanh(x, float("-1"), float("1"), backend=backend),
                          fastact.hardtanh(x, backend=backend))
    with pytest.raises(TypeError):
        fastact.hardtanh(x, -1.0, True, backend=backend)
    with pytest.raises(TypeError):
        fastact.backward("hardtanh", np.ones(13), x, max_val=True, backend=backend)


def test_other_void_dtypes_are_named_in_their_error():
    """bfloat16 is supported (tests/test_interop.py); other V-kind dtypes are a clear TypeError."""
    from fastact._dispatch import dtype_error

    assert "structured/void" in str(dtype_error(np.dtype("V4"), "x", "relu"))
    with pytest.raises(TypeError, match="structured/void"):
        fastact.relu(np.zeros(3, dtype="V4"))
