"""The numpy MLP as an ONNX graph: the same weights, MatMul/Add/Relu, so both compute the
same function.

Why: comparing ONNX Runtime with numpy on one model (``bench/onnx_vs_numpy.py``) and
checking the ``onnx`` model kind against the numpy MLP (the tests) both need the MLP's
own weights as a ``.onnx`` file.  Building it needs the ``onnx`` package (``pip install
onnx``), which running an ONNX model does not.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .mlp import MLPModel

if TYPE_CHECKING:  # pragma: no cover
    import onnx

#: ONNX Runtime 1.17 (the extra's floor) reads IR version 9 and opset 20; these are below
IR_VERSION = 8
OPSET = 17


def mlp_graph(mlp: MLPModel, batch: str | int = "batch") -> onnx.ModelProto:
    """``mlp`` as an ONNX model: input ``x`` [batch, layers[0]] -> output ``y`` [batch, layers[-1]].

    ``batch`` is the input's first dimension: a name (a dynamic batch axis) or a fixed size.
    """
    from onnx import TensorProto, helper, numpy_helper

    nodes, weights = [], []
    last = len(mlp._weights) - 1
    current = "x"
    for i, (w, b) in enumerate(zip(mlp._weights, mlp._biases)):
        weights += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(b, f"b{i}")]
        nodes.append(helper.make_node("MatMul", [current, f"w{i}"], [f"mm{i}"]))
        added = "y" if i == last else f"add{i}"
        nodes.append(helper.make_node("Add", [f"mm{i}", f"b{i}"], [added]))
        if i < last:
            nodes.append(helper.make_node("Relu", [added], [f"h{i}"]))
            current = f"h{i}"
    graph = helper.make_graph(
        nodes, "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, mlp.layers[0]])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, mlp.layers[-1]])],
        weights,
    )
    return model_from_graph(graph)


def model_from_graph(graph: onnx.GraphProto) -> onnx.ModelProto:
    """``graph`` as a checked model at the IR version and opset the runtime's floor reads."""
    import onnx
    from onnx import helper

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def write_mlp_onnx(mlp: MLPModel, path: Path, batch: str | int = "batch") -> Path:
    """Write :func:`mlp_graph` to ``path``."""
    import onnx

    onnx.save(mlp_graph(mlp, batch), str(path))
    return path
