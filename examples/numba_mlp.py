"""A two-layer MLP trained entirely inside @numba.njit with fastact's functions.

    logits = gelu(x @ W1 + b1) @ W2 + b2,   loss = mean cross-entropy(logits, labels)

``train_step`` runs the forward pass, the loss, the backward pass and an SGD
update in one compiled function: ``fastact.gelu``, ``fastact.backward("gelu", ...)``,
``fastact.log_softmax`` and ``fastact.log_softmax_backward`` are called directly
in compiled code (no import beyond ``fastact``: Numba loads fastact's overloads
through its extension entry point).  ``hidden_rows`` shows the per-row form in a
``prange`` loop.  ``main()`` checks the compiled step against the same step
written with fastact's NumPy API and prints the losses.

    python examples/numba_mlp.py
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

import fastact


@njit(cache=False)
def forward_backward(x, labels, W1, b1, W2, b2):
    """(loss, dW1, db1, dW2, db2) of the mean cross-entropy."""
    pre = x @ W1 + b1
    h = fastact.gelu(pre)
    logp = fastact.log_softmax(h @ W2 + b2)
    n = x.shape[0]
    loss = 0.0
    grad_logp = np.zeros_like(logp)
    for i in range(n):
        loss -= logp[i, labels[i]]
        grad_logp[i, labels[i]] = -1.0 / n
    dlogits = fastact.log_softmax_backward(grad_logp, logp)
    dW2 = h.T @ dlogits
    db2 = dlogits.sum(axis=0)
    dpre = fastact.backward("gelu", dlogits @ W2.T, pre)
    dW1 = x.T @ dpre
    db1 = dpre.sum(axis=0)
    return loss / n, dW1, db1, dW2, db2


@njit(cache=False)
def train_step(x, labels, W1, b1, W2, b2, lr):
    """One SGD step in place; returns the loss before it."""
    loss, dW1, db1, dW2, db2 = forward_backward(x, labels, W1, b1, W2, b2)
    W1 -= lr * dW1
    b1 -= lr * db1
    W2 -= lr * dW2
    b2 -= lr * db2
    return loss


@njit(parallel=True, cache=False)
def hidden_rows(x, W1, b1):
    """gelu(x @ W1 + b1) one row per prange iteration, written in place."""
    pre = x @ W1
    for i in prange(pre.shape[0]):
        row = pre[i]
        row += b1
        fastact.gelu(row, out=row)
    return pre


def forward_backward_numpy(x, labels, W1, b1, W2, b2):
    """The same computation with fastact's NumPy API (the reference)."""
    pre = x @ W1 + b1
    h = fastact.gelu(pre, backend="numba")
    logp = fastact.log_softmax(h @ W2 + b2, axis=-1, backend="numba")
    n = x.shape[0]
    grad_logp = np.zeros_like(logp)
    grad_logp[np.arange(n), labels] = -1.0 / n
    dlogits = fastact.log_softmax_backward(grad_logp, logp, backend="numba")
    dpre = fastact.backward("gelu", dlogits @ W2.T, pre, backend="numba")
    loss = -logp[np.arange(n), labels].sum() / n
    return loss, x.T @ dpre, dpre.sum(axis=0), h.T @ dlogits, dlogits.sum(axis=0)


def make_problem(n=256, d_in=20, d_hidden=64, classes=4, seed=0):
    """A separable toy problem and an initial model (float64)."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((classes, d_in)) * 2
    labels = rng.integers(0, classes, n)
    x = centers[labels] + rng.standard_normal((n, d_in))
    W1 = rng.standard_normal((d_in, d_hidden)) / np.sqrt(d_in)
    W2 = rng.standard_normal((d_hidden, classes)) / np.sqrt(d_hidden)
    return x, labels, W1, np.zeros(d_hidden), W2, np.zeros(classes)


def main(steps: int = 50) -> list:
    x, labels, W1, b1, W2, b2 = make_problem()
    got = forward_backward(x, labels, W1, b1, W2, b2)
    want = forward_backward_numpy(x, labels, W1, b1, W2, b2)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-13)
    # (Numba's x @ W1 may call another BLAS than NumPy's: equal to rounding)
    np.testing.assert_allclose(hidden_rows(x, W1, b1), fastact.gelu(x @ W1 + b1),
                               rtol=1e-12, atol=1e-15)
    losses = [train_step(x, labels, W1, b1, W2, b2, 0.5) for _ in range(steps)]
    assert losses[-1] < 0.5 * losses[0], losses
    print(f"OK: compiled step = NumPy API step; loss {losses[0]:.4f} -> {losses[-1]:.4f}")
    return losses


if __name__ == "__main__":
    main()
