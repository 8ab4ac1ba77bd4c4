"""Small ONNX graphs built at test time with ``onnx.helper``: the MLP's own weights, and odd shapes.

``mlp_graph(mlp, batch)`` is :func:`clawlet_tui.models.onnx_export.mlp_graph` (the MLP's
weights and biases as MatMul/Add/Relu nodes, so the ONNX model and the numpy one compute
the same function); the others are shapes and types to check the model kind against.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from clawlet_tui.models import MLPModel
from clawlet_tui.models.onnx_export import mlp_graph, model_from_graph

__all__ = ["identity_graph", "mlp_graph", "reference_inputs", "save"]


def identity_graph(shape: list[str | int | None], dtype: int = TensorProto.FLOAT, inputs: int = 1) -> onnx.ModelProto:
    """``y = x`` (``x + x2`` with two inputs), for shape and dtype checks."""
    names = ["x", "x2"][:inputs]
    node = helper.make_node("Identity" if inputs == 1 else "Add", names, ["y"])
    graph = helper.make_graph(
        [node], "identity",
        [helper.make_tensor_value_info(n, dtype, shape) for n in names],
        [helper.make_tensor_value_info("y", dtype, shape)],
    )
    return model_from_graph(graph)


def save(model: onnx.ModelProto, path: Path) -> Path:
    onnx.save(model, str(path))
    return path


def reference_inputs(mlp: MLPModel, n: int) -> list[np.ndarray]:
    return [mlp.make_input(key) for key in range(n)]
