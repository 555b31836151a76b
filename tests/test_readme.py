"""The README's MLP example runs as written and computes what its comments say."""
import os
import re

import numpy as np
import pytest

import fastact

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def _example_block() -> str:
    with open(README, encoding="utf-8") as f:
        text = f.read()
    section = text.split("## Example: a NumPy MLP forward and backward pass", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_mlp_example_runs_and_its_fused_ops_match_the_unfused_sequence():
    prev = fastact.get_num_threads()
    scope: dict = {}
    try:
        exec(compile(_example_block(), README, "exec"), scope)  # noqa: S102
    finally:
        fastact.set_num_threads(prev)
    x, w1, b1, w2, labels = (scope[k] for k in ("x", "w1", "b1", "w2", "labels"))
    z1 = x @ w1  # the example overwrote its z1 with relu in place at the end
    h = fastact.gelu(z1 + b1)
    np.testing.assert_array_equal(scope["h"], h)
    logits = (h @ w2).astype(np.float64)
    logp = logits - np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1, keepdims=True)) \
        - logits.max(1, keepdims=True)
    rows = np.arange(len(labels))
    assert scope["loss"] == pytest.approx(-logp[rows, labels].mean(), rel=1e-5)
    onehot = np.zeros_like(logp)
    onehot[rows, labels] = 1
    np.testing.assert_allclose(scope["g_logits"], (np.exp(logp) - onehot) / len(labels),
                               rtol=1e-4, atol=1e-7)
    g_z1 = scope["g_h"] * fastact.derivative("gelu", z1 + b1)
    np.testing.assert_allclose(scope["g_z1"], g_z1, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(scope["g_b1"], g_z1.sum(0, dtype=np.float64), rtol=1e-4, atol=1e-6)
