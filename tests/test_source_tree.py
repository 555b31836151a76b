"""Python started inside an unbuilt clone imports its source tree: fastact says so, and what to do."""
from __future__ import annotations

import os
import shutil

import fastact

from ._subprocess import run_python

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(fastact.__file__)))


def _unbuilt_clone(tmp_path):
    """A copy of the clone's sources (fastact/ and pyproject.toml) without any build product."""
    clone = tmp_path / "clone"
    shutil.copytree(os.path.join(ROOT, "fastact"), clone / "fastact",
                    ignore=shutil.ignore_patterns("*.so", "*.pyd", "*.c", "_isa", "__pycache__"))
    shutil.copy(os.path.join(ROOT, "pyproject.toml"), clone / "pyproject.toml")
    return clone


def test_unbuilt_source_tree_is_detected_and_explained(tmp_path):
    clone = _unbuilt_clone(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    code, out, err = run_python("""
        import sys  # as if fastact were not installed: no editable-install finder
        sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
        import fastact
        assert fastact.__file__.startswith(%r), fastact.__file__
        fastact.show_config()
        print("REASON:", fastact._backends.unavailable().get("cython"))
    """ % str(clone), 120, env, cwd=str(clone))
    assert code == 0, err
    assert "unbuilt source tree" in out and "pip install -e ." in out and "pip install ." in out
    reason = out.split("REASON:")[1]
    assert "pip install -e ." in reason and "build_ext --inplace" not in reason


def test_installed_or_built_tree_gives_no_warning():
    assert fastact.config()["source_tree"] is None  # the tests run against a built fastact
