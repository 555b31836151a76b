"""Type information: the generated functions' signatures (at run time and for type checkers),
py.typed and the LICENSE shipped, and mypy on a user's script."""
from __future__ import annotations

import importlib.util
import inspect
import os
import subprocess
import sys
import textwrap

import pytest
from numpy.typing import ArrayLike

import fastact
from fastact import _declarations, _typing
from fastact._api import ALIAS_FUNCTIONS, FUNCTIONS, ROW_FUNCTIONS
from fastact._api_gated import GATED_FUNCTIONS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(fastact.__file__)))
GENERATED = {**FUNCTIONS, **ALIAS_FUNCTIONS, **ROW_FUNCTIONS, **GATED_FUNCTIONS}


def _shape(signature, skip_self=False) -> list:
    params = list(signature.parameters.values())[1 if skip_self else 0:]
    return [(p.name, p.kind, p.default) for p in params]


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_declaration_matches_the_generated_function(name):
    declared = _declarations.__annotations__.get(name)
    assert declared is not None, f"declare {name} in fastact/_declarations.py"
    protocol = getattr(_typing, declared.split(".")[-1])
    runtime = inspect.signature(GENERATED[name])
    assert _shape(inspect.signature(protocol.__call__), skip_self=True) == _shape(runtime)


def test_nothing_else_is_declared():
    assert set(_declarations.__annotations__) == set(GENERATED)


def test_generated_functions_have_annotations():
    sig = inspect.signature(fastact.gelu)
    assert sig.parameters["x"].annotation is ArrayLike
    assert "tanh" in str(sig.parameters["approximate"].annotation)
    assert sig.parameters["out"].kind is inspect.Parameter.KEYWORD_ONLY
    assert inspect.signature(fastact.leaky_relu).parameters["negative_slope"].annotation is float
    for name in ("derivative", "backward", "get", "set_num_threads", "show_config"):
        hints = getattr(fastact, name).__annotations__
        assert hints and "return" in hints, name


def test_py_typed_and_license_are_shipped():
    assert os.path.exists(os.path.join(ROOT, "fastact", "py.typed"))
    with open(os.path.join(ROOT, "LICENSE")) as f:
        text = f.read()
    assert "BSD 3-Clause" in text and "the fastact developers" in text
    with open(os.path.join(ROOT, "pyproject.toml")) as f:
        pyproject = f.read()
    assert 'license-files = ["LICENSE"]' in pyproject and '"py.typed"' in pyproject
    for doc in ("CHANGELOG.md", "CONTRIBUTING.md"):
        assert os.path.exists(os.path.join(ROOT, doc))


GOOD = """
    import numpy as np
    import fastact

    x = np.linspace(-3, 3, 100, dtype=np.float32)
    y = fastact.gelu(x, approximate="tanh")
    z = fastact.leaky_relu(x, negative_slope=0.2, out=np.empty_like(x), backend="numba")
    p = fastact.softmax(x.reshape(10, 10), axis=-1)
    s = fastact.logsumexp(x.reshape(10, 10), 0, keepdims=True)
    g = fastact.backward("sigmoid", np.ones_like(x), y=fastact.sigmoid(x))
    act = fastact.get("hardtanh", min_val=-2.0)
    a = act(x) + act.backward(np.ones_like(x), x)
    n: int = fastact.set_num_threads(2) + fastact.get_num_threads()
    names: list[str] = fastact.backends() + fastact.activations()
    with fastact.use_backend("cython"):
        fastact.relu(x, out=x)
"""
BAD = """
    import numpy as np
    import fastact

    fastact.gelu(np.ones(3), approximate="fast")
    fastact.leaky_relu(np.ones(3), slope=0.2)
    fastact.set_num_threads("2")
"""


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy not installed")
def test_mypy_sees_the_signatures(tmp_path):
    (tmp_path / "good.py").write_text(textwrap.dedent(GOOD))
    (tmp_path / "bad.py").write_text(textwrap.dedent(BAD))
    env = {**os.environ, "MYPYPATH": ROOT}
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache"),
         "good.py", "bad.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    mine = [line for line in proc.stdout.splitlines() if line.startswith(("good.py", "bad.py"))]
    assert not [line for line in mine if line.startswith("good.py")], proc.stdout[-3000:]
    bad = "\n".join(mine)
    assert 'Literal[\'fast\']' in bad and '"slope"' in bad and "set_num_threads" in bad
