"""The models the engine serves, and :func:`build_model` to make one from a spec table.

A spec is what a preset's ``[model]`` table holds::

    kind = "mlp"          # mlp | latency | function | onnx
    layers = [512, 2048, 512, 2048, 512]

    kind = "latency"
    fixed_ms = 5.0
    per_item_ms = 0.2

    kind = "function"               # may be left out when target or path is given
    target = "mymodel:predict"      # mymodel.py next to the preset file, in the current
                                    # directory, or an installed module
    # or: path = "./mymodel.py" (relative to the preset file) and function = "predict"

    kind = "onnx"                   # may be left out when path ends in .onnx
    path = "model.onnx"             # relative to the preset file (needs clawlet-tui[onnx])
    inputs = "inputs.npy"           # optional: rows to feed, else generated (see models/onnx.py)

Any kind takes an optional ``[model.faults]`` table (error_rate, spike_rate, spike_ms,
hang_rate, hang_s, poison_every, seed) that wraps it in a :class:`FaultyModel`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..engine.errors import ConfigError
from .base import Model, ModelInfo
from .faulty import FaultyModel, InjectedFault
from .latency import LatencyModel
from .mlp import DEFAULT_LAYERS, MLPModel
from .user import FunctionModel, load_function_model

__all__ = [
    "DEFAULT_LAYERS",
    "FaultyModel",
    "FunctionModel",
    "InjectedFault",
    "LatencyModel",
    "MLPModel",
    "Model",
    "ModelInfo",
    "build_model",
    "load_function_model",
]

_PARAMS: dict[str, set[str]] = {
    "mlp": {"layers", "seed"},
    "latency": {"fixed_ms", "per_item_ms", "dim", "seed"},
    "function": {"target", "path", "function", "input_dim"},
    "onnx": {"path", "inputs", "seed"},
}
_FAULT_PARAMS = {"error_rate", "spike_rate", "spike_ms", "hang_rate", "hang_s", "poison_every", "seed"}


def build_model(
    spec: Mapping[str, Any] | None = None,
    *,
    source: str | None = None,
    base_dir: str | os.PathLike[str] | None = None,
) -> Model:
    """Make a model from a spec table (``None`` or ``{}``: the default MLP).

    ``source`` names where the spec came from in errors.  A user model's module or file is
    looked up relative to ``base_dir``; by default that is the folder of ``source`` when
    ``source`` is a file (a preset), so every caller that names its preset file (runs,
    ``serve``, the dashboard) finds ``mymodel.py`` next to it without further plumbing.

    Raises :class:`ConfigError` naming ``model.<field>`` and ``source`` on a bad spec.
    """
    spec = dict(spec or {})
    # a target or a path can only mean the user's own function: no need to say kind = "function"
    kind = spec.pop("kind", _implied_kind(spec))
    faults = spec.pop("faults", None)
    if kind not in _PARAMS:
        raise ConfigError(
            f"model.kind must be one of {', '.join(sorted(_PARAMS))}, got {kind!r}", field="model.kind", source=source
        )
    unknown = sorted(set(spec) - _PARAMS[kind])
    if unknown:
        raise ConfigError(f"unknown field model.{unknown[0]} for kind {kind!r}", field=f"model.{unknown[0]}", source=source)
    try:
        model: Model
        if kind == "mlp":
            model = MLPModel(**spec)
        elif kind == "latency":
            model = LatencyModel(**spec)
        elif kind == "onnx":
            from .onnx import OnnxModel  # onnxruntime is an optional extra: imported only when asked for

            if "path" not in spec:
                raise ConfigError("model.path (an .onnx file) is required for kind 'onnx'", field="model.path")
            model = OnnxModel(**spec, base_dir=base_dir if base_dir is not None else _source_dir(source))
        else:
            if "target" not in spec and "path" not in spec:
                raise ConfigError(
                    "model.target (module:function) or model.path (a .py file) is required for kind 'function'",
                    field="model.target",
                )
            folder = base_dir if base_dir is not None else _source_dir(source)
            model = load_function_model(
                spec.get("target"), path=spec.get("path"), function=spec.get("function"),
                input_dim=spec.get("input_dim", 16), search_dirs=() if folder is None else (folder,),
            )
        if faults is not None:
            if not isinstance(faults, Mapping):
                raise ConfigError(f"model.faults must be a table, got {type(faults).__name__}", field="faults")
            unknown = sorted(set(faults) - _FAULT_PARAMS)
            if unknown:
                raise ConfigError(f"unknown field {unknown[0]}", field=f"faults.{unknown[0]}")
            try:
                model = FaultyModel(model, **faults)
            except ConfigError as exc:
                raise ConfigError(f"faults.{exc}", field=f"faults.{exc.field}") from None
    except ConfigError as exc:
        field = exc.field or "?"
        message = str(exc)
        if not field.startswith("model."):
            message = f"model.{message}" if message.startswith(field) else f"model.{field}: {message}"
            field = f"model.{field}"
        raise ConfigError(message, field=field, source=source) from None
    except TypeError as exc:
        raise ConfigError(f"model: {exc}", field="model", source=source) from None
    return model


def _implied_kind(spec: Mapping[str, Any]) -> str:
    """The kind a spec without one means: a ``.onnx`` path is onnx, a target or other path a function."""
    path = spec.get("path")
    if isinstance(path, str) and path.endswith(".onnx"):
        return "onnx"
    return "function" if ("target" in spec or "path" in spec) else "mlp"


def _source_dir(source: str | None) -> Path | None:
    """The folder of ``source`` if it names a file (a preset), else None."""
    if not source:
        return None
    path = Path(source).expanduser()
    return path.resolve().parent if path.is_file() else None
