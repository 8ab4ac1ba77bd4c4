"""Small ONNX graphs built at test time with ``onnx.helper``: the MLP's own weights, and odd shapes.

``mlp_graph(mlp, batch)`` writes :class:`MLPModel`'s weights and biases as MatMul/Add/Relu
nodes, so the ONNX model and the numpy one compute the same function and their outputs
can be compared.  ``batch`` is the input's first dimension: a name (dynamic) or an int.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from clawlet_tui.models import MLPModel

#: ONNX Runtime 1.17 (the extra's floor) reads IR version 9 and opset 20
IR_VERSION = 8
OPSET = 17


def _model(graph: onnx.GraphProto) -> onnx.ModelProto:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def mlp_graph(mlp: MLPModel, batch: str | int = "batch") -> onnx.ModelProto:
    """``mlp`` as an ONNX graph: input ``x`` [batch, layers[0]] -> output ``y`` [batch, layers[-1]]."""
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
    return _model(graph)


def identity_graph(shape: list[str | int | None], dtype: int = TensorProto.FLOAT, inputs: int = 1) -> onnx.ModelProto:
    """``y = x`` (``x + x2`` with two inputs), for shape and dtype checks."""
    names = ["x", "x2"][:inputs]
    node = helper.make_node("Identity" if inputs == 1 else "Add", names, ["y"])
    graph = helper.make_graph(
        [node], "identity",
        [helper.make_tensor_value_info(n, dtype, shape) for n in names],
        [helper.make_tensor_value_info("y", dtype, shape)],
    )
    return _model(graph)


def save(model: onnx.ModelProto, path: Path) -> Path:
    onnx.save(model, str(path))
    return path


def reference_inputs(mlp: MLPModel, n: int) -> list[np.ndarray]:
    return [mlp.make_input(key) for key in range(n)]
