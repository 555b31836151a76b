"""ONNX Runtime as a peer: one single-node ONNX model per (op, dtype, parameters), built once.

The model is built with the ``onnx`` package's helpers (ONNX Runtime itself
cannot build one) and run on the CPU execution provider.  The timed call binds
the NumPy input and the preallocated output buffer with IO binding
(``run_with_iobinding``: no copy, no allocation); the allocating call is
``session.run``.  ONNX has no derivative kernels for inference: no backward peers.
An op or dtype ONNX Runtime lacks (several of its activation kernels are
float32-only) raises :class:`~fastact._bench.peers.Unsupported` when its session is
created.  Idle session threads do not spin (see :func:`session`).
"""
from __future__ import annotations

import functools

import numpy as np

OPSET = 20  # Gelu (with approximate=) needs opset 20
IR_VERSION = 9  # what ONNX Runtime >= 1.16 reads
THREADS = {"n": 0}  # intra-op threads for new sessions (0: ONNX Runtime's default)


def _node(op_type, **attrs):
    """A spec: (op_type, attributes, extra constant inputs as a tuple of (name, value))."""
    consts = tuple((k[6:], v) for k, v in attrs.items() if k.startswith("const_"))
    attrs = tuple((k, v) for k, v in attrs.items() if not k.startswith("const_"))
    return op_type, attrs, consts


def _p(name):
    return lambda p: p[name]


# (kernel id or row op) -> (op_type, attributes, constant inputs); values may be callables of
# the case's parameters.
OPS: dict = {
    "identity": _node("Identity"),
    "relu": _node("Relu"),
    "leaky_relu": _node("LeakyRelu", alpha=_p("negative_slope")),
    "sigmoid": _node("Sigmoid"),
    "tanh": _node("Tanh"),
    "gelu": _node("Gelu", approximate="none"),
    "gelu_tanh": _node("Gelu", approximate="tanh"),
    "elu": _node("Elu", alpha=_p("alpha")),
    "selu": _node("Selu"),
    "celu": _node("Celu", alpha=_p("alpha")),
    "mish": _node("Mish"),
    "hardsigmoid": _node("HardSigmoid", alpha=1.0 / 6.0, beta=0.5),
    "hardswish": _node("HardSwish"),
    "hardtanh": _node("Clip", const_min=_p("min_val"), const_max=_p("max_val")),
    "relu6": _node("Clip", const_min=0.0, const_max=6.0),
    "softsign": _node("Softsign"),
    "hardshrink": _node("Shrink", lambd=_p("lambd"), bias=0.0),
    "softshrink": _node("Shrink", lambd=_p("lambd"), bias=_p("lambd")),
    "softmax": _node("Softmax", axis=-1),
    "log_softmax": _node("LogSoftmax", axis=-1),
    "logsumexp": _node("ReduceLogSumExp", keepdims=0, const_axes=np.array([-1], np.int64)),
}
NOTES = {
    "hardtanh": "Clip", "relu6": "Clip(0, 6)", "hardshrink": "Shrink(bias=0)",
    "softshrink": "Shrink(bias=lambd)", "logsumexp": "ReduceLogSumExp",
}


def _value(v, params):
    return v(params) if callable(v) else v


def _model(op: str, dtype: str, params: tuple):
    """The serialized one-node model computing ``op`` on input "x" into output "y"."""
    from onnx import TensorProto, helper, numpy_helper

    op_type, attrs, consts = OPS[op]
    p = dict(params)
    elem = {"float32": TensorProto.FLOAT, "float64": TensorProto.DOUBLE}[dtype]
    inits = [numpy_helper.from_array(np.asarray(_value(v, p), None if name == "axes" else dtype),
                                     name) for name, v in consts]
    node = helper.make_node(op_type, ["x", *(t.name for t in inits)], ["y"],
                            **{k: _value(v, p) for k, v in attrs})
    graph = helper.make_graph([node], op, [helper.make_tensor_value_info("x", elem, None)],
                              [helper.make_tensor_value_info("y", elem, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              ir_version=IR_VERSION)
    return model.SerializeToString()


@functools.lru_cache(maxsize=None)
def session(op: str, dtype: str, params: tuple, threads: int):
    """The inference session of ``op`` at ``dtype`` (built once per op, dtype, parameters)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    # idle worker threads sleep instead of spinning: the bench interleaves implementations,
    # and a spinning pool would steal the cores of whatever is timed next
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(_model(op, dtype, params), options,
                                providers=["CPUExecutionProvider"])


def make(op: str):
    """The ``Peer.make`` of ``op``: IO binding into ``bufs.out``, or ``session.run`` if allocating."""

    def build(bufs, allocate):
        x = np.ascontiguousarray(bufs.x)
        sess = _session_or_unsupported(op, x.dtype.name, tuple(sorted(bufs.params.items())))
        if allocate:
            return functools.partial(_run, sess, x), True
        binding = sess.io_binding()
        binding.bind_cpu_input("x", x)
        out = bufs.out
        binding.bind_output("y", "cpu", 0, out.dtype, out.shape, out.ctypes.data)
        return functools.partial(sess.run_with_iobinding, binding), False

    return build


def _session_or_unsupported(op, dtype, params):
    """The session, or :class:`~fastact._bench.peers.Unsupported` when ONNX Runtime lacks the
    kernel for this dtype (NOT_IMPLEMENTED, or INVALID_GRAPH where the op's schema itself
    excludes the type, as Celu's does double)."""
    from onnxruntime.capi.onnxruntime_pybind11_state import InvalidGraph
    from onnxruntime.capi.onnxruntime_pybind11_state import NotImplemented as Missing

    from .peers import Unsupported

    try:
        return session(op, dtype, params, THREADS["n"])
    except (Missing, InvalidGraph) as exc:
        raise Unsupported(f"onnxruntime has no {op} kernel for {dtype}") from exc


def _run(sess, x):
    return sess.run(None, {"x": x})[0]


def peers(op: str, mode: str) -> tuple:
    """((make, note),) for a forward ``op`` ONNX has, else ()."""
    if mode != "forward" or op not in OPS:
        return ()
    return ((make(op), NOTES.get(op, OPS[op][0])),)
