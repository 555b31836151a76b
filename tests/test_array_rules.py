"""NumPy's array rules, for every kernel and backend: dtypes, shapes, strides, out=.

* float32/float64 keep their dtype; float16 is computed in float32 and
  returned as float16; bool and integers give float64; byte-swapped floats
  give the native dtype;
* any strides give exactly the values of a contiguous copy;
* ``out=`` returns ``out``; ``out=x`` in place, a partially overlapping
  ``out`` and a strided ``out`` give the same values;
* the input is never written (without out=); a 0-d input gives a NumPy scalar.
"""

import numpy as np
import pytest

import fastact
from fastact import _registry as registry
from tests._arrays import INTS, KERNEL_CASES, ROW_OP_NAMES, base_values, case_modes, cast, grads_like

KCASES = [pytest.param(c, id=c.id) for c in KERNEL_CASES]


def run(case, mode, x, backend, grad=None, out=None):
    if mode == "forward":
        return fastact.get(case.name, **case.kwargs)(x, out=out, backend=backend)
    if mode == "derivative":
        return fastact.derivative(case.name, x, out=out, backend=backend, **case.kwargs)
    if grad is None:
        grad = grads_like(x, np.float64).astype(np.result_type(np.asarray(x).dtype, np.float32))
    if mode == "backward":
        return fastact.backward(case.name, grad, x, out=out, backend=backend, **case.kwargs)
    return fastact.backward(case.name, grad, y=x, out=out, backend=backend, **case.kwargs)


def same(a, b) -> bool:
    """Bitwise-equal values (NaN == NaN), same dtype and shape."""
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)


@pytest.mark.parametrize("case", KCASES)
def test_dtype_rules(case, backend):
    for mode in ("forward", "derivative"):
        for dt, want in [(np.float32, np.float32), (np.float64, np.float64),
                         (np.float16, np.float16), (np.bool_, np.float64)] + [
                (i, np.float64) for i in INTS]:
            x = np.array([0, 1, 2, 3], dtype=dt)
            got = run(case, mode, x, backend)
            assert got.dtype == want, f"{case} {mode}: {np.dtype(dt)} -> {got.dtype}"
            # ints/bool: the same numbers as the float64 computation
            if np.dtype(dt).kind in "biu":
                assert same(got, run(case, mode, x.astype(np.float64), backend))
        for f in (np.float32, np.float64):
            v = base_values(f, case)
            swapped = v.astype(np.dtype(f).newbyteorder("S"))
            got = run(case, mode, swapped, backend)
            assert got.dtype == np.dtype(f) and got.dtype.isnative
            assert same(got, run(case, mode, v, backend)), f"{case} {mode} byte-swapped {f}"


@pytest.mark.parametrize("case", KCASES)
def test_float16_is_float32_rounded(case, backend):
    with np.errstate(all="ignore"):
        x16 = base_values(np.float16, case)
    for mode in case_modes(case):
        g16 = grads_like(x16, np.float16)
        got = run(case, mode, x16, backend, grad=g16)
        want = run(case, mode, x16.astype(np.float32), backend, grad=g16.astype(np.float32))
        with np.errstate(over="ignore"):
            want = want.astype(np.float16)
        assert got.dtype == np.float16
        assert same(got, want), f"{case} {mode} float16"


def test_backward_dtype_promotion(backend):
    case = KERNEL_CASES[0]
    x32 = np.linspace(-2, 2, 9, dtype=np.float32)
    for gdt, xdt, want in [(np.float32, np.float32, np.float32), (np.float64, np.float32, np.float64),
                           (np.float16, np.float16, np.float16), (np.float16, np.float32, np.float32),
                           (np.int32, np.float32, np.float64)]:
        got = fastact.backward(case.name, np.ones(9, gdt), x32.astype(xdt), backend=backend)
        assert got.dtype == want, (gdt, xdt, got.dtype)


@pytest.mark.parametrize("case", KCASES)
def test_shapes_and_scalars(case, backend):
    for mode in case_modes(case):
        for shape in [(0,), (3, 0), (0, 4, 2), (1,), (2, 3, 4), (1, 1, 1, 1, 5)]:
            x = np.linspace(-4, 4, int(np.prod(shape)), dtype=np.float64).reshape(shape)
            got = run(case, mode, x, backend)
            assert type(got) is np.ndarray and got.shape == shape and got.dtype == np.float64
        # 0-d array and Python scalar -> NumPy scalar, like a ufunc
        for x0 in (np.float64(0.75), np.array(0.75), 0.75, np.array(-2, np.int64)):
            got = run(case, mode, x0, backend)
            assert isinstance(got, np.floating) and not isinstance(got, np.ndarray), type(got)
            assert got == run(case, mode, np.array([x0], dtype=np.float64), backend)[0]
        # 0-d with out= returns out
        out = np.empty((), np.float64)
        assert run(case, mode, np.array(0.75), backend, out=out) is out
        # lists and tuples
        got = run(case, mode, [[-1.0, 0.5], [2.0, 3.0]], backend)
        assert type(got) is np.ndarray and got.shape == (2, 2)


def _views(base):
    """Non-contiguous views of a (8, 12) array."""
    yield "[::2]", base[::2]
    yield "[:, ::-1]", base[:, ::-1]
    yield "transpose", base.T
    yield "fortran", np.asfortranarray(base)
    yield "[1:7:3, 2:11:4]", base[1:7:3, 2:11:4]
    yield "ravel[::-5]", base.ravel()[::-5]
    yield "broadcast", np.broadcast_to(base[0], (3, 12))
    yield "3-D transposed", base.reshape(2, 4, 12).transpose(2, 0, 1)


@pytest.mark.parametrize("case", KCASES)
def test_strides_equal_contiguous_copy(case, backend):
    base = base_values(np.float64, case)[:96].reshape(8, 12)
    for dt in (np.float32, np.float64):
        b = cast(base, dt)
        for mode in case_modes(case):
            for label, v in _views(b):
                grad = grads_like(v, dt)
                got = run(case, mode, v, backend, grad=grad)
                want = run(case, mode, np.ascontiguousarray(v), backend, grad=np.ascontiguousarray(grad))
                assert same(got, want), f"{case} {mode} {np.dtype(dt)} {label}"
                # a strided grad as well
                if mode.startswith("backward"):
                    g2 = np.asfortranarray(grad)[..., ::-1][..., ::-1]
                    got = run(case, mode, v, backend, grad=g2)
                    assert same(got, want), f"{case} {mode} strided grad {label}"


@pytest.mark.parametrize("case", KCASES)
def test_out_rules(case, backend):
    x = base_values(np.float64, case)[:60]
    for dt in (np.float32, np.float64):
        xd = cast(x, dt)
        for mode in case_modes(case):
            grad = grads_like(xd, dt)
            want = run(case, mode, xd, backend, grad=grad)
            # plain out
            out = np.full_like(xd, 7)
            assert run(case, mode, xd, backend, grad=grad, out=out) is out
            assert same(out, want), f"{case} {mode} out="
            # out = x (in place)
            xi = xd.copy()
            assert run(case, mode, xi, backend, grad=grad, out=xi) is xi
            assert same(xi, want), f"{case} {mode} out=x"
            # out = grad (in place on the gradient)
            if mode.startswith("backward"):
                gi = grad.copy()
                assert run(case, mode, xd, backend, grad=gi, out=gi) is gi
                assert same(gi, want), f"{case} {mode} out=grad"
            # partially overlapping: out shifted by one element over the input
            buf = np.concatenate([xd, xd[:1]])
            src, dst = buf[:-1], buf[1:]
            g = grads_like(src, dt)
            assert run(case, mode, src, backend, grad=g, out=dst) is dst
            assert same(dst, want), f"{case} {mode} overlapping out (ahead)"
            buf = np.concatenate([xd[:1], xd])
            src, dst = buf[1:], buf[:-1]
            assert run(case, mode, src, backend, grad=g, out=dst) is dst
            assert same(dst, want), f"{case} {mode} overlapping out (behind)"
            if mode.startswith("backward"):  # out shifted by one element over grad
                gbuf = np.concatenate([grad, grad[:1]])
                gsrc, gdst = gbuf[:-1], gbuf[1:]
                assert run(case, mode, xd, backend, grad=gsrc, out=gdst) is gdst
                assert same(gdst, want), f"{case} {mode} out overlapping grad"
            # reversed in place (out is x[::-1] of the same buffer)
            xr = xd.copy()
            run(case, mode, xr, backend, grad=g, out=xr[::-1])
            assert same(xr[::-1], want), f"{case} {mode} out=x[::-1]"
            # strided and Fortran out
            big = np.full(2 * xd.size, 7, dt)
            assert run(case, mode, xd, backend, grad=grad, out=big[::2]) is not None
            assert same(big[::2], want) and (big[1::2] == 7).all(), f"{case} {mode} strided out"
            x2 = xd.reshape(6, 10)
            outf = np.empty((6, 10), dt, order="F")
            run(case, mode, x2, backend, grad=grads_like(x2, dt), out=outf)
            assert same(outf, want.reshape(6, 10)), f"{case} {mode} Fortran out"
            # float16 result through out=
            x16 = cast(xd, np.float16)
            o16 = np.empty_like(x16)
            run(case, mode, x16, backend, grad=grads_like(x16, np.float16), out=o16)
            assert same(o16, run(case, mode, x16, backend, grad=grads_like(x16, np.float16)))
            # float16 Fortran input into a float16 Fortran out (computed in float32, copied)
            x16f = np.asfortranarray(x16.reshape(6, 10))
            o16f = np.empty((6, 10), np.float16, order="F")
            g16f = np.asfortranarray(grads_like(x16, np.float16).reshape(6, 10))
            run(case, mode, x16f, backend, grad=g16f, out=o16f)
            assert same(o16f, o16.reshape(6, 10)), f"{case} {mode} float16 Fortran out"


@pytest.mark.parametrize("case", KCASES)
def test_input_never_written(case, backend):
    x = base_values(np.float64, case)
    for dt in (np.float16, np.float32, np.float64, np.int32):
        with np.errstate(all="ignore"):
            xd = cast(x, dt)
        for mode in case_modes(case):
            grad = grads_like(xd, np.float32 if dt != np.float64 else np.float64)
            x_before, g_before = xd.copy(), grad.copy()
            run(case, mode, xd, backend, grad=grad)
            run(case, mode, xd, backend, grad=grad, out=np.empty(xd.shape, np.result_type(
                np.float16 if dt == np.float16 else np.float64 if dt == np.int32 else dt,
                grad.dtype if mode.startswith("backward") else dt)))
            assert np.array_equal(xd, x_before, equal_nan=True), f"{case} {mode} {dt} x written"
            assert np.array_equal(grad, g_before, equal_nan=True), f"{case} {mode} grad written"


def test_readonly_input_works(backend):
    for case in KERNEL_CASES:
        x = np.linspace(-3, 3, 31)
        x.flags.writeable = False
        for mode in case_modes(case):
            assert same(run(case, mode, x, backend), run(case, mode, x.copy(), backend))


@pytest.mark.parametrize("op", ROW_OP_NAMES)
def test_rowwise_input_never_written(op, backend):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 33))
    x_before = x.copy()
    fn = getattr(fastact, op)
    if op.endswith("_backward"):
        g = rng.standard_normal((5, 33))
        g_before = g.copy()
        fn(g, x, backend=backend)
        fn(g, x, axis=0, backend=backend)
        assert np.array_equal(g, g_before)
    else:
        fn(x, backend=backend)
        fn(x, axis=0, backend=backend)
        fn(x, axis=None, backend=backend)
    assert np.array_equal(x, x_before)


@pytest.mark.parametrize("kernel_id", registry.nan_keeping_forward_ids())
def test_forwards_without_a_nan_select_keep_nan(kernel_id, backend):
    """The kernels whose forward loops skip the NaN select (``forward_keeps_nan``) give NaN
    for every NaN in x by their formula alone, in both dtypes, whatever the NaN's sign."""
    params = registry.params_for_kernel(kernel_id)
    name = registry.kernel_spec(kernel_id).name
    for dt in (np.float32, np.float64):
        x = np.array([np.nan, -np.nan, 1.0, -1.0, 0.0] * 40, dtype=dt)
        got = fastact.get(name, **params).forward(x, backend=backend)
        assert np.isnan(got[0::5]).all() and np.isnan(got[1::5]).all(), (dt, got[:5])
        assert np.isfinite(got[2::5]).all()


def test_kernels_refuse_an_out_over_an_input_they_are_not(refusing_backend):
    """A compiled elementwise kernel returns False and writes nothing where out overlaps x
    or grad without being that array (the dispatch then copies); out being x or grad
    itself, or apart, runs.  Numba: through the work pool's driver and its own drivers."""
    from fastact import _backends

    kernel = _backends.resolve(refusing_backend).get_elementwise("relu", "backward")
    buf = np.linspace(-2.0, 2.0, 101)
    grad = np.full(100, 3.0)
    before = buf.copy()
    assert kernel(buf[1:], buf[:-1], grad, (), 2) is False
    gbuf = np.concatenate([grad, grad[:1]])
    assert kernel(gbuf[1:], buf[:-1], gbuf[:-1], (), 2) is False
    assert np.array_equal(buf, before) and (gbuf == 3.0).all()
    x = buf[:-1].copy()
    want = np.where(x > 0, 3.0, 0.0)
    out = np.empty_like(x)
    for target, xs, g in ((out, x, grad), (x, x, grad), (grad, x, grad)):
        xs, g = xs.copy(), g.copy()
        target = xs if target is x else g if target is grad else out
        assert kernel(target, xs, g, (), 2) is not False
        assert np.array_equal(target, want)
