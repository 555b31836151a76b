"""The single source of truth: every elementwise activation fastact knows.

Each :class:`ActivationSpec` entry records its public name, its parameters (names
and defaults follow PyTorch), the formula of the function and of its
derivative (used for the generated docstrings), whether the derivative can be
computed from the output ``y = f(x)``, and an mpmath oracle used by the tests.

Everything else is generated from :data:`ACTIVATIONS`: the public functions
and ``__all__`` (``fastact/__init__.py``), ``get``/``derivative``/``backward``
(``fastact/_api.py``), the parametrization of the test-suite and the
benchmark cases.  Each backend supplies one scalar formula per *kernel id*
(see :meth:`ActivationSpec.resolve`).

The kernel contract every backend, the tests and the benchmarks share lives
here too: :data:`MODES` (what a kernel computes in each mode),
:func:`kernel_modes`, :func:`kernel_args` (the positional parameters of a
scalar formula) and :func:`params_for_kernel` (parameter values selecting a
kernel id).  ``setup.py`` loads this file by path: it imports nothing from
the package.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple, Optional

from ._constants import (  # noqa: F401
    GELU_TANH_C, GELU_TANH_K, QUICK_GELU_BETA, SELU_ALPHA, SELU_SCALE,
)

REQUIRED = object()  # sentinel default: the parameter has no default
KERNEL_ARG_COUNT = 2  # a scalar formula takes (x, a, b): at most two numeric parameters


@dataclass(frozen=True)
class Param:
    """A parameter of an activation.

    ``choices`` makes it a string option (like ``gelu(approximate=...)``);
    otherwise it is a finite real number, optionally checked by ``check``
    (a predicate) whose failure message is ``rule``.
    """

    name: str
    default: Any = REQUIRED
    choices: Optional[tuple] = None
    check: Optional[Callable[[float], bool]] = None
    rule: str = ""


def _always(params: dict) -> bool:
    return True


@dataclass(frozen=True)
class FromY:
    """How f' is computed from the output ``y = f(x)``.

    ``formula`` is the text for the docstrings; ``valid`` is a predicate of the
    parameter dict telling whether it holds for those parameters (e.g.
    ``leaky_relu`` needs ``negative_slope >= 0``).
    """

    formula: str
    valid: Callable[[dict], bool] = _always


class SameAs(NamedTuple):
    """Parameter values at which an activation IS another one: at ``values`` (pairs of
    parameter name and value) the dispatch runs ``activation``'s kernels at its defaults,
    whose results are then the ones of that activation, bit for bit."""

    activation: str
    values: tuple


@dataclass(frozen=True)
class ActivationSpec:
    """The registry's entry for one elementwise activation ``y = f(x)``.

    (The object ``fastact.get()`` returns, with parameters bound, is
    ``fastact.Activation``.)

    Attributes
    ----------
    name: public name (PyTorch's spelling).
    formula / derivative_formula: plain-text formulas for the docstrings.
    summary: one line saying what it is.
    params: the parameters, in PyTorch's order.
    from_y: ``None`` when f' is not a function of ``y``; else a :class:`FromY`.
    smooth: False for the piecewise-linear functions (the tests demand exact
        results for those, a ULP bound for the others).
    aliases: other names users type.
    same_as: ``None``, or the :class:`SameAs` rule naming the parameter values at
        which this activation is another one (``swish`` at beta = 1 is ``silu``).
    oracle / oracle_derivative: ``(mp, x, **params) -> mpf`` in mpmath.
    examples: extra parameter sets the tests sweep besides the defaults.
    forward_keeps_nan: kernel ids whose compiled forward formulas (both dtypes, both compiled
        backends) give NaN for a NaN x by themselves: their forward loops skip the NaN select.
    unit_first_param: kernel ids whose compiled loops test the first parameter for 1 once
        and then run a copy with the constant 1 (the formula's products and divisions by it
        fold away: the same bits, fewer operations).
    """

    name: str
    summary: str
    formula: str
    derivative_formula: str
    oracle: Callable
    oracle_derivative: Callable
    params: tuple = ()
    from_y: Optional[FromY] = None
    smooth: bool = True
    aliases: tuple = ()
    examples: tuple = ()
    same_as: Optional[SameAs] = None
    forward_keeps_nan: tuple = ()
    unit_first_param: tuple = ()
    _cache: dict = field(default_factory=dict, compare=False, repr=False)
    _y_cache: dict = field(default_factory=dict, compare=False, repr=False)
    # bind((), {}): one tuple object, so resolve's result for it can be found by identity
    _default_values: tuple = field(default=(), init=False, compare=False, repr=False)
    _default_resolved: Optional[tuple] = field(default=None, init=False, compare=False, repr=False)
    # parameter name -> its position (bind's lookup)
    _param_index: dict = field(default_factory=dict, init=False, compare=False, repr=False)

    def __post_init__(self):
        if sum(p.choices is None for p in self.params) > KERNEL_ARG_COUNT:
            raise ValueError(f"{self.name}: a kernel takes at most {KERNEL_ARG_COUNT} numbers")
        object.__setattr__(self, "_default_values", tuple(p.default for p in self.params))
        self._param_index.update((p.name, i) for i, p in enumerate(self.params))

    # ------------------------------------------------------------------ params
    @property
    def param_names(self) -> tuple:
        return tuple(p.name for p in self.params)

    @property
    def defaults(self) -> dict:
        return {p.name: p.default for p in self.params if p.default is not REQUIRED}

    def resolve(self, values: tuple, exact: bool = False):
        """Validate parameter values (in declaration order).

        Returns ``(kernel_id, numeric_params)``: the kernel id names the
        scalar formula a backend must use (``"gelu"`` or ``"gelu_tanh"``),
        the numeric parameters are the float parameters in order.  Values at
        which the activation is another one (:attr:`same_as`) select the other's
        kernel and parameters, unless ``exact`` (this entry's own kernel).
        Results are cached, so repeated calls with the same values are a
        dictionary lookup.
        """
        if values is self._default_values and self._default_resolved is not None and not exact:
            return self._default_resolved
        # The key holds the types too: True == 1.0 (same hash) must not hit 1.0's entry.
        key = (values, tuple(map(type, values)) if values else ())
        if not exact:
            try:
                return self._cache[key]
            except (KeyError, TypeError):
                pass
        result = self._resolve_exact(values)
        if exact:
            return result
        if self.same_as is not None and all(
                values[self.param_names.index(n)] == v for n, v in self.same_as.values):
            other = BY_NAME[self.same_as.activation]
            result = other.resolve(other.bind((), {}))
        try:
            self._cache[key] = result
        except TypeError:  # unhashable value: nothing to cache
            pass
        if values is self._default_values:
            object.__setattr__(self, "_default_resolved", result)
        return result

    def _resolve_exact(self, values: tuple):
        """:meth:`resolve` without the cache and without :attr:`same_as`."""
        kernel_id = self.name
        numeric = []
        for p, v in zip(self.params, values):
            if v is REQUIRED:
                raise TypeError(f"{self.name}() missing required parameter {p.name!r}")
            if p.choices is not None:
                if not isinstance(v, str) or v not in p.choices:
                    raise ValueError(
                        f"{self.name}(): {p.name} must be one of "
                        f"{', '.join(repr(c) for c in p.choices)}, got {v!r}"
                    )
                if v != p.default:
                    kernel_id += "_" + v
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)) and not _is_real_scalar(v):
                raise TypeError(
                    f"{self.name}(): {p.name} must be a real number, got {type(v).__name__}"
                )
            f = float(v)
            if not math.isfinite(f):
                raise ValueError(f"{self.name}(): {p.name} must be finite, got {v!r}")
            if p.check is not None and not p.check(f):
                raise ValueError(f"{self.name}(): {p.name} {p.rule}, got {v!r}")
            numeric.append(f)
        if self.name in _CROSS_CHECKS:
            _CROSS_CHECKS[self.name](dict(zip(self.param_names, values)))
        return kernel_id, tuple(numeric)

    def bind(self, args: tuple, kwargs: dict) -> tuple:
        """Turn positional/keyword parameters into a tuple in declaration order (the one
        ``_default_values`` tuple when none is given)."""
        if not args and not kwargs:
            return self._default_values
        if len(args) > len(self.params):
            raise TypeError(
                f"{self.name}() takes at most {len(self.params)} parameter(s) "
                f"({', '.join(self.param_names) or 'none'}), got {len(args)}"
            )
        values = [*args, *self._default_values[len(args):]]
        index = self._param_index
        for key, v in kwargs.items():
            i = index.get(key)
            if i is None:
                raise TypeError(
                    f"{self.name}() got an unexpected parameter {key!r}; "
                    f"its parameters are: {', '.join(self.param_names) or 'none'}"
                )
            if i < len(args):
                raise TypeError(f"{self.name}() got multiple values for parameter {key!r}")
            values[i] = v
        return tuple(values)

    def accepts_y(self, values: tuple) -> bool:
        """True when f' can be computed from y = f(x) for these parameters."""
        if self.from_y is None:
            return False
        try:
            return self._y_cache[values]
        except (KeyError, TypeError):  # not seen yet, or unhashable: evaluate
            pass
        accepts = bool(self.from_y.valid(dict(zip(self.param_names, values))))
        try:
            self._y_cache[values] = accepts
        except TypeError:
            pass
        return accepts

    def kernel_ids(self) -> tuple:
        """Every kernel id this entry can resolve to (one per choice value)."""
        ids = [self.name]
        for p in self.params:
            if p.choices is not None:
                ids += [f"{self.name}_{c}" for c in p.choices if c != p.default]
        return tuple(ids)

    def params_selecting(self, kernel_id: str) -> dict:
        """Parameter values that select ``kernel_id``: the defaults, the choice naming it,
        and the first example's value for a parameter without a default."""
        params = dict(self.defaults)
        for p in self.params:
            if p.choices is not None:
                params.update({p.name: c for c in p.choices if f"{self.name}_{c}" == kernel_id})
            elif p.default is REQUIRED:
                params[p.name] = next(e for e in self.examples if p.name in e)[p.name]
        if self.resolve(self.bind((), params), exact=True)[0] != kernel_id:
            raise KeyError(f"{self.name} has no kernel {kernel_id!r}")
        return params


def _is_real_scalar(v) -> bool:
    try:
        import numpy as np

        return isinstance(v, (np.integer, np.floating)) and not isinstance(v, np.bool_)
    except ImportError:  # pragma: no cover
        return False


def _check_hardtanh(p):
    if p["min_val"] is not REQUIRED and p["max_val"] is not REQUIRED and p["min_val"] > p["max_val"]:
        raise ValueError(
            f"hardtanh(): min_val must not exceed max_val, got {p['min_val']!r} > {p['max_val']!r}"
        )


_CROSS_CHECKS = {"hardtanh": _check_hardtanh}

_nonzero = dict(check=lambda v: v != 0.0, rule="must be non-zero")
_nonneg = dict(check=lambda v: v >= 0.0, rule="must be >= 0")



# ---------------------------------------------------------------- mpmath oracles
def _sig(mp, x):
    return 1 / (1 + mp.exp(-x))


def _softplus(mp, x, beta, threshold):
    if x * beta > threshold:
        return x
    return mp.log1p(mp.exp(beta * x)) / beta


def _phi_cdf(mp, x):
    if abs(x) > 1e4:  # mpmath's erfc cannot take huge arguments; Phi is 0 or 1 to any precision
        return mp.mpf(0) if x < 0 else mp.mpf(1)
    return mp.erfc(-x / mp.sqrt(2)) / 2


def _gelu_tanh_u(mp, x):
    return mp.mpf(GELU_TANH_C) * (x + GELU_TANH_K * x**3)


def _mish_d(mp, x):
    sp = mp.log1p(mp.exp(x))
    t = mp.tanh(sp)
    return t + x * (1 - t * t) * _sig(mp, x)


def _tanhshrink(mp, x):
    # x - tanh(x) ~ x**3/3 cancels 2*log2(1/|x|) bits: add them to the working precision
    extra = 0 if x == 0 or abs(x) >= 1 else int(-2 * mp.log(abs(x), 2)) + 10
    ctx = getattr(mp, "mp", mp)  # the mpmath module or a context
    with ctx.workprec(ctx.prec + extra):
        return +(x - mp.tanh(x))


def _step(cond):
    return 1 if cond else 0


# What hardshrink and softshrink share: the parameter, f' (1 outside [-lambd, lambd]), and
# f' from y (y is 0 exactly inside).
_SHRINK = dict(
    oracle_derivative=lambda mp, x, lambd: _step(abs(x) > lambd),
    params=(Param("lambd", 0.5, **_nonneg),),
    from_y=FromY("1 if y != 0 else 0"),
    smooth=False,
    examples=({"lambd": 1.5},),
)


ACTIVATIONS: tuple = (
    ActivationSpec(
        "identity", "The identity (a linear layer's 'no activation').",
        formula="identity(x) = x",
        oracle=lambda mp, x: x,
        derivative_formula="identity'(x) = 1",
        oracle_derivative=lambda mp, x: 1,
        from_y=FromY("1"),
        smooth=False, aliases=("linear",),
    ),
    ActivationSpec(
        "relu", "Rectified linear unit.",
        formula="relu(x) = max(0, x)",
        oracle=lambda mp, x: max(x, 0),
        derivative_formula="relu'(x) = 1 if x > 0 else 0   (relu'(0) = 0, as PyTorch)",
        oracle_derivative=lambda mp, x: _step(x > 0),
        from_y=FromY("1 if y > 0 else 0"),
        smooth=False,
    ),
    ActivationSpec(
        "leaky_relu", "Leaky rectified linear unit.",
        formula="leaky_relu(x) = x if x > 0 else negative_slope * x",
        oracle=lambda mp, x, negative_slope: x if x > 0 else negative_slope * x,
        derivative_formula="leaky_relu'(x) = 1 if x > 0 else negative_slope",
        oracle_derivative=lambda mp, x, negative_slope: 1 if x > 0 else negative_slope,
        params=(Param("negative_slope", 0.01),),
        from_y=FromY("1 if y > 0 else negative_slope   (needs negative_slope >= 0)",
                     valid=lambda p: p["negative_slope"] >= 0),
        smooth=False,
        examples=({"negative_slope": 0.2}, {"negative_slope": -0.5}),
    ),
    ActivationSpec(
        "sigmoid", "Logistic sigmoid.",
        formula="sigmoid(x) = 1 / (1 + exp(-x))",
        oracle=lambda mp, x: _sig(mp, x),
        derivative_formula="sigmoid'(x) = sigmoid(x) * (1 - sigmoid(x))",
        oracle_derivative=lambda mp, x: _sig(mp, x) * _sig(mp, -x),
        from_y=FromY("y * (1 - y)"),
    ),
    ActivationSpec(
        "tanh", "Hyperbolic tangent.",
        formula="tanh(x) = (exp(x) - exp(-x)) / (exp(x) + exp(-x))",
        oracle=lambda mp, x: mp.tanh(x),
        derivative_formula="tanh'(x) = 1 - tanh(x)**2",
        oracle_derivative=lambda mp, x: mp.sech(x) ** 2,
        from_y=FromY("1 - y**2"),
    ),
    ActivationSpec(
        "gelu", "Gaussian error linear unit (exact, or PyTorch's tanh approximation).",
        forward_keeps_nan=("gelu",),
        formula=(
            "gelu(x) = x * Phi(x) = x/2 * erfc(-x/sqrt(2));  with approximate='tanh': "
            "x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x**3)))"
        ),
        # x/2 (1 + tanh u) is evaluated as x sigmoid(2u): the same function, without the
        # cancellation that would ruin even a 50-digit evaluation in the lower tail.
        oracle=lambda mp, x, approximate: (
            x * _phi_cdf(mp, x)
            if approximate == "none"
            else x * _sig(mp, 2 * _gelu_tanh_u(mp, x))
        ),
        derivative_formula=(
            "gelu'(x) = Phi(x) + x * phi(x), phi(x) = exp(-x**2/2)/sqrt(2 pi); "
            "for 'tanh' the derivative of the approximation"
        ),
        oracle_derivative=lambda mp, x, approximate: (
            _phi_cdf(mp, x) + x * mp.exp(-x * x / 2) / mp.sqrt(2 * mp.pi)
            if approximate == "none"
            else _sig(mp, 2 * _gelu_tanh_u(mp, x))
            + x * _sig(mp, 2 * _gelu_tanh_u(mp, x)) * _sig(mp, -2 * _gelu_tanh_u(mp, x))
            * 2 * mp.mpf(GELU_TANH_C) * (1 + 3 * GELU_TANH_K * x * x)
        ),
        params=(Param("approximate", "none", choices=("none", "tanh")),),
        examples=({"approximate": "tanh"},),
    ),
    ActivationSpec(
        "silu", "Sigmoid linear unit (swish with beta = 1).",
        formula="silu(x) = x * sigmoid(x)",
        oracle=lambda mp, x: x * _sig(mp, x),
        derivative_formula="silu'(x) = sigmoid(x) * (1 + x * (1 - sigmoid(x)))",
        oracle_derivative=lambda mp, x: _sig(mp, x) * (1 + x * _sig(mp, -x)),
    ),
    ActivationSpec(
        "swish", "Swish with a trainable-style slope beta.",
        formula="swish(x) = x * sigmoid(beta * x)",
        oracle=lambda mp, x, beta: x * _sig(mp, beta * x),
        derivative_formula="swish'(x) = s + beta * x * s * (1 - s),  s = sigmoid(beta * x)",
        oracle_derivative=lambda mp, x, beta: _sig(mp, beta * x)
        * (1 + beta * x * _sig(mp, -beta * x)),
        params=(Param("beta", 1.0),),
        examples=({"beta": 2.0}, {"beta": 0.5}, {"beta": 0.0}, {"beta": -1.0}),
        same_as=SameAs("silu", (("beta", 1.0),)),
    ),
    ActivationSpec(
        "quick_gelu", "GELU's sigmoid approximation (CLIP): swish with beta = 1.702.",
        formula="quick_gelu(x) = x * sigmoid(1.702 * x)",
        oracle=lambda mp, x: x * _sig(mp, mp.mpf(QUICK_GELU_BETA) * x),
        derivative_formula="quick_gelu'(x) = s + 1.702 * x * s * (1 - s),  s = sigmoid(1.702 * x)",
        oracle_derivative=lambda mp, x: _sig(mp, mp.mpf(QUICK_GELU_BETA) * x)
        * (1 + mp.mpf(QUICK_GELU_BETA) * x * _sig(mp, -mp.mpf(QUICK_GELU_BETA) * x)),
    ),
    ActivationSpec(
        "elu", "Exponential linear unit.",
        formula="elu(x) = x if x > 0 else alpha * (exp(x) - 1)",
        oracle=lambda mp, x, alpha: x if x > 0 else alpha * mp.expm1(x),
        derivative_formula="elu'(x) = 1 if x > 0 else alpha * exp(x)",
        oracle_derivative=lambda mp, x, alpha: 1 if x > 0 else alpha * mp.exp(x),
        params=(Param("alpha", 1.0),),
        from_y=FromY("1 if y > 0 else y + alpha   (needs alpha >= 0)",
                     valid=lambda p: p["alpha"] >= 0),
        examples=({"alpha": 0.5},),
    ),
    ActivationSpec(
        "selu", "Scaled exponential linear unit (self-normalising constants).",
        formula="selu(x) = scale * (x if x > 0 else alpha * (exp(x) - 1)), "
        "alpha = 1.6732632423543772, scale = 1.0507009873554805",
        oracle=lambda mp, x: mp.mpf(SELU_SCALE) * (x if x > 0 else mp.mpf(SELU_ALPHA) * mp.expm1(x)),
        derivative_formula="selu'(x) = scale if x > 0 else scale * alpha * exp(x)",
        oracle_derivative=lambda mp, x: mp.mpf(SELU_SCALE)
        * (1 if x > 0 else mp.mpf(SELU_ALPHA) * mp.exp(x)),
        from_y=FromY("scale if y > 0 else y + scale * alpha"),
    ),
    ActivationSpec(
        "celu", "Continuously differentiable exponential linear unit.",
        formula="celu(x) = x if x > 0 else alpha * (exp(x / alpha) - 1)",
        oracle=lambda mp, x, alpha: x if x > 0 else alpha * mp.expm1(x / alpha),
        derivative_formula="celu'(x) = 1 if x > 0 else exp(x / alpha)",
        oracle_derivative=lambda mp, x, alpha: 1 if x > 0 else mp.exp(x / alpha),
        params=(Param("alpha", 1.0, **_nonzero),),
        from_y=FromY("1 if y > 0 else y / alpha + 1   (needs alpha > 0)",
                     valid=lambda p: p["alpha"] > 0),
        examples=({"alpha": 2.0},),
    ),
    ActivationSpec(
        "softplus", "Smooth approximation of relu; linear above a threshold (as PyTorch).",
        formula="softplus(x) = x if beta * x > threshold else log(1 + exp(beta * x)) / beta",
        oracle=lambda mp, x, beta, threshold: _softplus(mp, x, beta, threshold),
        derivative_formula="softplus'(x) = 1 if beta * x > threshold else sigmoid(beta * x)",
        oracle_derivative=lambda mp, x, beta, threshold: 1
        if x * beta > threshold
        else _sig(mp, beta * x),
        params=(Param("beta", 1.0, **_nonzero), Param("threshold", 20.0)),
        examples=({"beta": 2.0, "threshold": 20.0}, {"beta": 1.0, "threshold": 5.0}),
        unit_first_param=("softplus",),
    ),
    ActivationSpec(
        "mish", "Mish, a self-regularised non-monotonic activation.",
        formula="mish(x) = x * tanh(softplus(x)) = x * tanh(log(1 + exp(x)))",
        oracle=lambda mp, x: x * mp.tanh(mp.log1p(mp.exp(x))),
        derivative_formula="mish'(x) = tanh(sp) + x * sigmoid(x) * (1 - tanh(sp)**2), sp = softplus(x)",
        oracle_derivative=lambda mp, x: _mish_d(mp, x),
    ),
    ActivationSpec(
        "hardsigmoid", "Piecewise-linear approximation of sigmoid.",
        formula="hardsigmoid(x) = min(max(x + 3, 0), 6) / 6",
        oracle=lambda mp, x: min(max(x + 3, 0), 6) / mp.mpf(6),
        derivative_formula="hardsigmoid'(x) = 1/6 if -3 < x < 3 else 0",
        oracle_derivative=lambda mp, x: 1 / mp.mpf(6) if -3 < x < 3 else 0,
        from_y=FromY("1/6 if 0 < y < 1 else 0"),
        aliases=("hard_sigmoid",),
    ),
    ActivationSpec(
        "hardswish", "x times hardsigmoid(x) (MobileNetV3).",
        formula="hardswish(x) = x * min(max(x + 3, 0), 6) / 6",
        oracle=lambda mp, x: x * min(max(x + 3, 0), 6) / mp.mpf(6),
        derivative_formula="hardswish'(x) = 0 if x <= -3 else (x / 3 + 1/2 if x <= 3 else 1)",
        oracle_derivative=lambda mp, x: 0 if x <= -3 else (x / 3 + mp.mpf(1) / 2 if x <= 3 else 1),
        aliases=("hard_swish",),
    ),
    ActivationSpec(
        "hardtanh", "Clamp to [min_val, max_val].",
        formula="hardtanh(x) = min(max(x, min_val), max_val)",
        oracle=lambda mp, x, min_val, max_val: min(max(x, min_val), max_val),
        derivative_formula="hardtanh'(x) = 1 if min_val < x < max_val else 0",
        oracle_derivative=lambda mp, x, min_val, max_val: _step(min_val < x < max_val),
        params=(Param("min_val", -1.0), Param("max_val", 1.0)),
        from_y=FromY("1 if min_val < y < max_val else 0"),
        smooth=False, aliases=("hard_tanh",),
        examples=({"min_val": -2.0, "max_val": 0.5},),
    ),
    ActivationSpec(
        "relu6", "relu clamped at 6.",
        formula="relu6(x) = min(max(x, 0), 6)",
        oracle=lambda mp, x: min(max(x, 0), 6),
        derivative_formula="relu6'(x) = 1 if 0 < x < 6 else 0",
        oracle_derivative=lambda mp, x: _step(0 < x < 6),
        from_y=FromY("1 if 0 < y < 6 else 0"),
        smooth=False,
    ),
    ActivationSpec(
        "logsigmoid", "Logarithm of the sigmoid, computed without overflow.",
        formula="logsigmoid(x) = log(sigmoid(x)) = -softplus(-x)",
        oracle=lambda mp, x: -mp.log1p(mp.exp(-x)),
        derivative_formula="logsigmoid'(x) = 1 - sigmoid(x) = sigmoid(-x)",
        oracle_derivative=lambda mp, x: _sig(mp, -x),
        from_y=FromY("-expm1(y)"),
        aliases=("log_sigmoid",),
    ),
    ActivationSpec(
        "softsign", "x / (1 + |x|).",
        formula="softsign(x) = x / (1 + |x|)",
        oracle=lambda mp, x: x / (1 + abs(x)),
        derivative_formula="softsign'(x) = 1 / (1 + |x|)**2",
        oracle_derivative=lambda mp, x: 1 / (1 + abs(x)) ** 2,
        from_y=FromY("(1 - |y|)**2"),
    ),
    ActivationSpec(
        "tanhshrink", "x - tanh(x) (accurate near 0).",
        formula="tanhshrink(x) = x - tanh(x)",
        oracle=lambda mp, x: _tanhshrink(mp, x),
        derivative_formula="tanhshrink'(x) = tanh(x)**2",
        oracle_derivative=lambda mp, x: mp.tanh(x) ** 2,
    ),
    ActivationSpec(
        "threshold", "x where x > threshold, else a constant value.",
        formula="threshold(x) = x if x > threshold else value",
        oracle=lambda mp, x, threshold, value: x if x > threshold else value,
        derivative_formula="threshold'(x) = 1 if x > threshold else 0",
        oracle_derivative=lambda mp, x, threshold, value: _step(x > threshold),
        params=(Param("threshold"), Param("value")),
        smooth=False,
        examples=({"threshold": 0.5, "value": -2.0}, {"threshold": -1.0, "value": 0.0}),
    ),
    ActivationSpec(
        "hardshrink", "Zero inside [-lambd, lambd], identity outside.",
        formula="hardshrink(x) = x if |x| > lambd else 0",
        oracle=lambda mp, x, lambd: x if abs(x) > lambd else 0,
        derivative_formula="hardshrink'(x) = 1 if |x| > lambd else 0",
        **_SHRINK,
    ),
    ActivationSpec(
        "softshrink", "Shrink towards 0 by lambd (soft thresholding).",
        formula="softshrink(x) = x - lambd if x > lambd, x + lambd if x < -lambd, else 0",
        oracle=lambda mp, x, lambd: x - lambd if x > lambd else (x + lambd if x < -lambd else 0),
        derivative_formula="softshrink'(x) = 1 if |x| > lambd else 0",
        **_SHRINK,
    ),
)

BY_NAME: dict = {a.name: a for a in ACTIVATIONS}
ALIASES: dict = {alias: a.name for a in ACTIVATIONS for alias in a.aliases}


def lookup(name) -> ActivationSpec:
    """The entry for ``name`` (or an alias); a helpful error otherwise."""
    if not isinstance(name, str):
        raise TypeError(f"activation name must be a string, got {type(name).__name__}")
    entry = BY_NAME.get(ALIASES.get(name, name))
    if entry is None:
        entry = BY_NAME.get(ALIASES.get(name.lower(), name.lower()))
    if entry is not None:
        return entry
    import difflib

    row_op = ROW_OPS_BY_NAME.get(name.lower())
    if row_op is not None:  # the softmax family works along an axis: not an elementwise entry
        hint = f" {row_op.name} is not elementwise: call fastact.{row_op.name}(x, axis=...)."
    else:
        known = sorted(BY_NAME) + sorted(ALIASES)
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(
        f"unknown activation {name!r}.{hint} Valid names: {', '.join(sorted(BY_NAME))}"
        f" (aliases: {', '.join(sorted(ALIASES))})"
    )


def all_kernel_ids() -> tuple:
    """Every elementwise kernel id a complete backend must provide."""
    return tuple(k for a in ACTIVATIONS for k in a.kernel_ids())


def nan_keeping_forward_ids() -> tuple:
    """Kernel ids whose forward loops need no NaN select (``forward_keeps_nan``)."""
    return tuple(k for a in ACTIVATIONS for k in a.forward_keeps_nan)


def unit_first_param_ids() -> tuple:
    """Kernel ids whose loops have a version for a first parameter of 1 (``unit_first_param``)."""
    return tuple(k for a in ACTIVATIONS for k in a.unit_first_param)


def y_kernel_ids() -> tuple:
    """Kernel ids whose derivative a backend must also provide as a function of y."""
    return tuple(a.name for a in ACTIVATIONS if a.from_y is not None)


# ------------------------------------------------------------- kernel contract
class Mode(NamedTuple):
    """What an elementwise kernel computes in one mode: ``grad * formula`` if ``takes_grad``."""

    formula: str  # the scalar formula evaluated: "forward", "derivative" or "derivative_y"
    takes_grad: bool


MODES: dict = {
    "forward": Mode("forward", False),  # f(x)
    "derivative": Mode("derivative", False),  # f'(x)
    "backward": Mode("derivative", True),  # grad * f'(x)
    "backward_y": Mode("derivative_y", True),  # grad * f' computed from y = f(x)
}


def kernel_modes(kernel_id: str) -> tuple:
    """The modes a complete backend provides for ``kernel_id`` ("backward_y" only with FromY)."""
    if kernel_id in y_kernel_ids():
        return tuple(MODES)
    return tuple(m for m in MODES if m != "backward_y")


def memory_bound(kernel_id: str, mode: str) -> bool:
    """True for the kernels that do a few operations per element (the piecewise-linear
    activations in every mode, every backward from y): their time is the memory traffic,
    and the backends' launch policy treats them apart from the transcendental ones."""
    return mode == "backward_y" or not kernel_spec(kernel_id).smooth


def kernel_spec(kernel_id: str) -> ActivationSpec:
    """The entry that resolves to ``kernel_id``."""
    for a in ACTIVATIONS:
        if kernel_id in a.kernel_ids():
            return a
    raise KeyError(f"no activation has the kernel id {kernel_id!r}")


def params_for_kernel(kernel_id: str) -> dict:
    """Parameter values selecting ``kernel_id`` (see :meth:`ActivationSpec.params_selecting`)."""
    return kernel_spec(kernel_id).params_selecting(kernel_id)


def kernel_params_for(kernel_id: str) -> tuple:
    """The numeric parameters a kernel receives for :func:`params_for_kernel`'s values."""
    spec = kernel_spec(kernel_id)
    return spec.resolve(spec.bind((), params_for_kernel(kernel_id)), exact=True)[1]


def kernel_args(params: tuple) -> tuple:
    """The positional parameters ``(a, b)`` of a scalar formula: ``params`` padded with 0.0."""
    return (params + (0.0, 0.0))[:KERNEL_ARG_COUNT]


# --------------------------------------------------------------- softmax family
@dataclass(frozen=True)
class RowOp:
    """A reduction-style operation along one axis (the softmax family)."""

    name: str
    formula: str
    summary: str
    reduces: bool = False  # output drops the axis (logsumexp)
    backward: bool = False  # takes (grad, y)
    masked: bool = True  # accepts where=


ROW_OPS: tuple = (
    RowOp("softmax", "softmax(x)_i = exp(x_i - m) / sum_j exp(x_j - m),  m = max_j x_j",
          "Normalised exponentials along an axis."),
    RowOp("log_softmax", "log_softmax(x)_i = (x_i - m) - log1p(sum_{j != argmax} exp(x_j - m))",
          "Logarithm of softmax, accurate at the maximum too."),
    RowOp("softmin", "softmin(x) = softmax(-x)", "Softmax of the negated input."),
    RowOp("logsumexp", "logsumexp(x) = m + log1p(sum_{j != argmax} exp(x_j - m))",
          "Log of the sum of exponentials along an axis.", reduces=True),
    RowOp("softmax_backward", "dx = y * (grad - sum(grad * y)),  y = softmax(x)",
          "Gradient of softmax given the upstream gradient and the output.", backward=True,
          masked=False),
    RowOp("log_softmax_backward", "dx = grad - exp(y) * sum(grad),  y = log_softmax(x)",
          "Gradient of log_softmax given the upstream gradient and the output.",
          backward=True, masked=False),
)
ROW_OPS_BY_NAME: dict = {op.name: op for op in ROW_OPS}


# ----------------------------------------------------------- gated linear units
@dataclass(frozen=True)
class GatedSpec:
    """A gated linear unit ``act(gate) * up`` (the GLU family).

    ``activation`` is the registry entry applied to the gate (its parameters,
    e.g. geglu's ``approximate``, are the unit's); ``gate_half`` says which half
    of a single split input is the gate (PyTorch's glu gates with the second
    half, the SwiGLU/GeGLU/ReGLU feed-forwards with the first).
    """

    name: str
    activation: str
    summary: str
    formula: str
    gate_half: int  # 0: gate = first half, up = second; 1: the other way round
    first: str = "gate"  # names of the two operands in the two-array form
    second: str = "up"

    @property
    def params(self) -> tuple:
        return BY_NAME[self.activation].params


GATED: tuple = (
    GatedSpec("glu", "sigmoid", "Gated linear unit (PyTorch's F.glu).",
              "glu(x) = a * sigmoid(b), (a, b) = the halves of x along axis; glu(a, b) likewise",
              gate_half=1, first="a", second="b"),
    GatedSpec("swiglu", "silu", "SwiGLU: the gated feed-forward of LLaMA-style transformers.",
              "swiglu(gate, up) = silu(gate) * up = gate * sigmoid(gate) * up", gate_half=0),
    GatedSpec("geglu", "gelu", "GeGLU: a GELU-gated linear unit (exact or tanh GELU).",
              "geglu(gate, up) = gelu(gate) * up", gate_half=0),
    GatedSpec("reglu", "relu", "ReGLU: a relu-gated linear unit.",
              "reglu(gate, up) = max(gate, 0) * up", gate_half=0),
)
GATED_BY_NAME: dict = {g.name: g for g in GATED}


def gated_kernel_ids() -> tuple:
    """The kernel ids a gated unit can apply to its gate (each choice of its activation),
    in GATED order: the ones a backend needs a fused gated loop for."""
    return tuple(dict.fromkeys(k for g in GATED for k in BY_NAME[g.activation].kernel_ids()))


def gated_ufunc_units() -> list:
    """(ufunc name, kernel id, gate_half) of every gated unit and choice of its activation:
    ``geglu`` and ``geglu_tanh`` as the elementwise ufuncs name ``gelu`` and ``gelu_tanh``."""
    units = []
    for g in GATED:
        act = BY_NAME[g.activation]
        for kid in act.kernel_ids():
            units.append((g.name + kid[len(act.name):], kid, g.gate_half))
    return units
