"""JAX (XLA on the CPU) as a peer: ``jax.nn`` functions, jitted once per function and parameters.

The input is converted to a JAX array once, outside the timed call; the timed
call runs the jitted function and ``block_until_ready()``; the result stays a
JAX array (its conversion to NumPy is excluded).  JAX has no ``out=``: every
call allocates.  Backward passes are ``jax.vjp`` of the same function, jitted.
float64 needs ``jax_enable_x64``, switched on when this peer is first used.
XLA's CPU thread pool is its own (not set by ``--threads``).
"""
from __future__ import annotations

import functools


def _nn(name, **fixed):
    """``jax.nn.<name>(x, **fixed, **{kw: params[p]})``; keyword values "p:NAME" read params."""

    def build(params):
        import jax

        fn = getattr(jax.nn, name)
        kw = {k: params[v[2:]] if isinstance(v, str) and v.startswith("p:") else v
              for k, v in fixed.items()}
        return functools.partial(fn, **kw) if kw else fn

    return build


def _swish(params):
    import jax

    beta = params["beta"]
    return lambda x: x * jax.nn.sigmoid(beta * x)


def _tanhshrink(params):
    import jax.numpy as jnp

    return lambda x: x - jnp.tanh(x)


def _softmin(params):
    import jax

    return lambda x: jax.nn.softmax(-x, axis=-1)


# (kernel id or row op) -> (builder of the function from the case's parameters, note)
FUNCTIONS: dict = {
    "identity": (_nn("identity"), ""),
    "relu": (_nn("relu"), ""),
    "leaky_relu": (_nn("leaky_relu", negative_slope="p:negative_slope"), ""),
    "sigmoid": (_nn("sigmoid"), ""),
    "tanh": (_nn("tanh"), ""),
    "gelu": (_nn("gelu", approximate=False), "jax.nn.gelu(approximate=False)"),
    "gelu_tanh": (_nn("gelu", approximate=True), "jax.nn.gelu(approximate=True)"),
    "silu": (_nn("silu"), ""),
    "swish": (_swish, "x * sigmoid(beta x)"),
    "elu": (_nn("elu", alpha="p:alpha"), ""),
    "selu": (_nn("selu"), ""),
    "celu": (_nn("celu", alpha="p:alpha"), ""),
    "mish": (_nn("mish"), ""),
    "hardsigmoid": (_nn("hard_sigmoid"), ""),
    "hardswish": (_nn("hard_swish"), ""),
    "relu6": (_nn("relu6"), ""),
    "logsigmoid": (_nn("log_sigmoid"), ""),
    "softsign": (_nn("soft_sign"), ""),
    "tanhshrink": (_tanhshrink, "x - tanh(x)"),
    "softmax": (_nn("softmax", axis=-1), ""),
    "log_softmax": (_nn("log_softmax", axis=-1), ""),
    "softmin": (_softmin, "softmax(-x)"),
    "logsumexp": (_nn("logsumexp", axis=-1), ""),
}


@functools.lru_cache(maxsize=None)
def compiled(op: str, backward: bool, params: tuple):
    """The jitted forward ``f(x)``, or backward ``(grad, x) -> vjp of f at x applied to grad``."""
    import jax

    jax.config.update("jax_enable_x64", True)
    fn = FUNCTIONS[op][0](dict(params))
    if not backward:
        return jax.jit(fn)
    return jax.jit(lambda grad, x: jax.vjp(fn, x)[1](grad)[0])


def make(op: str, backward: bool):
    """The ``Peer.make`` of ``op``: a jitted call on device arrays converted beforehand."""

    def build(bufs, allocate):
        import jax
        import jax.numpy as jnp

        fn = compiled(op, backward, tuple(sorted(bufs.params.items())))
        args = (bufs.grad, bufs.x) if backward else (bufs.x,)
        with jax.default_device(jax.devices("cpu")[0]):
            device_args = [jnp.asarray(a) for a in args]
        return (lambda: fn(*device_args).block_until_ready()), True

    return build


def peers(op: str, mode: str) -> tuple:
    """((make, note),) for ``op`` in ``mode`` (forward; backward from x, elementwise only)."""
    if op not in FUNCTIONS or mode not in ("forward", "backward"):
        return ()
    note = FUNCTIONS[op][1] or f"jax.nn.{op}"
    return ((make(op, mode == "backward"), note + (" (vjp)" if mode == "backward" else "")),)
