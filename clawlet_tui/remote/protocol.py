"""Open Inference Protocol (KServe v2) REST messages, encoded and checked strictly.

One input and one output tensor per request.  A batch of B float32 items of shape ``S``
travels as one tensor of shape ``[B, *S]``, either as JSON (``data``: the row-major flat
list; a nested list is accepted on the way in, as the protocol allows) or with the
**binary tensor data extension** (Triton's, also in KServe): the body is the JSON header,
``Inference-Header-Content-Length`` bytes long, followed by each binary tensor's raw
little-endian bytes in order; a binary tensor carries ``parameters.binary_data_size``
instead of ``data``.  Encoding a 32x512 float32 batch as JSON text and parsing it back
costs tens of milliseconds in Python; as bytes it is a copy.

Every decoder checks what it is given before trusting it: field presence and types,
datatype, that ``shape`` is a list of non-negative integers, that the number of values
equals the product of the shape, that the batch dimension equals the batch size sent.
A violation raises :class:`ProtocolError` (a ``ValueError``), whose message says which
field broke which rule.  The server answers it with HTTP 400; the client turns a bad
*response* into ``BackendError(kind="BadResponse")`` (:func:`decode_infer_response`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..engine.errors import BackendError

#: the datatype clawlet sends and its server accepts
FP32 = "FP32"

#: HTTP header giving the length of the JSON part of a binary-extension body
HEADER_LENGTH = "Inference-Header-Content-Length"
#: what a server lists in its metadata ``extensions`` when it takes binary tensors
BINARY_EXTENSION = "binary_tensor_data"

#: numeric v2 datatypes a client accepts in a response, and their numpy types
NUMERIC_DATATYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
}


class ProtocolError(ValueError):
    """A v2 message broke the protocol; the message names the field and the rule."""


# -- metadata ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TensorSpec:
    """``$metadata_tensor``: a name, a datatype and a shape (``-1`` = variable size)."""

    name: str
    datatype: str
    shape: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> TensorSpec:
        obj = _require_object(data, where)
        name = _require_str(obj, "name", where)
        datatype = _require_str(obj, "datatype", where)
        shape = obj.get("shape")
        if not isinstance(shape, list) or any(not _is_int(d) or d < -1 for d in shape):
            raise ProtocolError(f"{where}.shape must be a list of integers >= -1, got {shape!r}")
        return cls(name, datatype, tuple(shape))

    @property
    def item_shape(self) -> tuple[int, ...]:
        """The shape of one item: everything after the batch dimension."""
        return self.shape[1:]


@dataclass(frozen=True)
class ModelMetadata:
    """``$metadata_model_response``: what a server says about one model."""

    name: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    versions: tuple[str, ...] = ()
    platform: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "versions": list(self.versions),
            "platform": self.platform,
            "inputs": [t.to_dict() for t in self.inputs],
            "outputs": [t.to_dict() for t in self.outputs],
            **self.extra,
        }

    @classmethod
    def from_dict(cls, data: Any) -> ModelMetadata:
        obj = _require_object(data, "model metadata")
        name = _require_str(obj, "name", "model metadata")
        versions = obj.get("versions") or []
        if not isinstance(versions, list) or not all(isinstance(v, str) for v in versions):
            raise ProtocolError(f"model metadata.versions must be a list of strings, got {versions!r}")
        platform = obj.get("platform", "")
        if not isinstance(platform, str):
            raise ProtocolError(f"model metadata.platform must be a string, got {platform!r}")
        tensors: dict[str, tuple[TensorSpec, ...]] = {}
        for key in ("inputs", "outputs"):
            items = obj.get(key)
            if not isinstance(items, list):
                raise ProtocolError(f"model metadata.{key} must be a list, got {items!r}")
            tensors[key] = tuple(TensorSpec.from_dict(t, f"model metadata.{key}[{i}]") for i, t in enumerate(items))
        return cls(name, tensors["inputs"], tensors["outputs"], tuple(versions), platform)

    def batchable_input(self) -> TensorSpec:
        """The one FP32 input with a dynamic batch dimension that clawlet can send batches to."""
        if len(self.inputs) != 1:
            names = ", ".join(t.name for t in self.inputs) or "none"
            raise ProtocolError(f"model {self.name!r} has {len(self.inputs)} inputs ({names}); clawlet sends exactly one")
        spec = self.inputs[0]
        if spec.datatype != FP32:
            raise ProtocolError(f"model {self.name!r} input {spec.name!r} is {spec.datatype}; clawlet sends FP32")
        if not spec.shape or spec.shape[0] != -1:
            raise ProtocolError(
                f"model {self.name!r} input {spec.name!r} has shape {list(spec.shape)} without a dynamic batch "
                "dimension (-1) first; for Triton set max_batch_size > 0 in config.pbtxt"
            )
        if any(d < 1 for d in spec.item_shape):
            raise ProtocolError(
                f"model {self.name!r} input {spec.name!r} has shape {list(spec.shape)}; clawlet needs fixed item "
                "dimensions after the batch dimension"
            )
        return spec


# -- inference request ------------------------------------------------------------------


def encode_infer_request(items: Sequence[Any], input_name: str, *, output_name: str | None = None) -> dict[str, Any]:
    """One ``$inference_request`` carrying ``items`` as a single FP32 tensor ``[B, *item shape]``.

    Raises :class:`ProtocolError` if the items are not numeric or do not share one shape.
    """
    batch = _stack_fp32(items)
    request: dict[str, Any] = {
        "inputs": [{"name": input_name, "shape": list(batch.shape), "datatype": FP32, "data": batch.ravel().tolist()}]
    }
    if output_name is not None:
        request["outputs"] = [{"name": output_name}]
    return request


def encode_infer_request_binary(
    items: Sequence[Any], input_name: str, *, output_name: str | None = None
) -> tuple[bytes, int]:
    """``(body, header length)`` of a binary-extension request that also asks for binary outputs.

    Outputs are asked for by name when ``output_name`` is given, else all of them
    (``parameters.binary_data_output``).  Raises :class:`ProtocolError` like
    :func:`encode_infer_request`.
    """
    batch = _stack_fp32(items)
    data = batch.astype("<f4", copy=False).tobytes()
    request: dict[str, Any] = {
        "inputs": [
            {"name": input_name, "shape": list(batch.shape), "datatype": FP32, "parameters": {"binary_data_size": len(data)}}
        ]
    }
    if output_name is not None:
        request["outputs"] = [{"name": output_name, "parameters": {"binary_data": True}}]
    else:
        request["parameters"] = {"binary_data_output": True}
    header = json.dumps(request).encode()
    return header + data, len(header)


def split_body(body: bytes, header_length: str | None) -> tuple[Any, bytes]:
    """``(parsed JSON, binary part)`` of a request or response body.

    ``header_length`` is the ``Inference-Header-Content-Length`` header (None: the whole
    body is JSON).  Raises :class:`ProtocolError` if it is not an integer within the body
    or the JSON part does not parse.
    """
    if header_length is None:
        return parse_json(body), b""
    try:
        length = int(header_length)
    except ValueError:
        raise ProtocolError(f"{HEADER_LENGTH} must be an integer, got {header_length!r}") from None
    if not 0 < length <= len(body):
        raise ProtocolError(f"{HEADER_LENGTH} is {length}; the body has {len(body)} bytes")
    return parse_json(body[:length]), body[length:]


def parse_json(data: bytes) -> Any:
    """A JSON body; :class:`ProtocolError` with a short preview if it is not JSON."""
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        preview = data[:80].decode("utf-8", "replace")
        raise ProtocolError(f"not JSON ({exc}): {preview!r}") from None


def _stack_fp32(items: Sequence[Any]) -> np.ndarray:
    if not items:
        raise ProtocolError("cannot encode an empty batch")
    try:
        return np.stack([np.asarray(item, dtype=np.float32) for item in items])
    except (TypeError, ValueError) as exc:
        raise ProtocolError(f"batch items must be numeric arrays of one shape: {exc}") from None


def decode_infer_request(body: Any, input_spec: TensorSpec, binary: bytes = b"") -> np.ndarray:
    """The ``[B, *item shape]`` float32 batch of an ``$inference_request`` (server side).

    ``binary`` is the part of the body after the JSON header (binary extension).
    Raises :class:`ProtocolError` naming the field and the rule that was broken.
    """
    obj = _require_object(body, "request")
    inputs = obj.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise ProtocolError("request.inputs must be a non-empty list")
    if len(inputs) != 1:
        raise ProtocolError(f"request.inputs has {len(inputs)} tensors; this model takes one ({input_spec.name!r})")
    tensor = _require_object(inputs[0], "request.inputs[0]")
    name = _require_str(tensor, "name", "request.inputs[0]")
    if name != input_spec.name:
        raise ProtocolError(f"request.inputs[0].name is {name!r}; this model's input is {input_spec.name!r}")
    chunks = _BinaryChunks(binary)
    array = decode_tensor(tensor, "request.inputs[0]", allowed={FP32: NUMERIC_DATATYPES[FP32]}, binary=chunks)
    chunks.check_used("request")
    if array.ndim < 1:
        raise ProtocolError("request.inputs[0].shape must have a batch dimension")
    expected = input_spec.item_shape
    if len(array.shape[1:]) != len(expected) or any(e != -1 and e != a for e, a in zip(expected, array.shape[1:])):
        raise ProtocolError(
            f"request.inputs[0].shape is {list(array.shape)}; this model takes {list(input_spec.shape)}"
        )
    return array


# -- inference response -----------------------------------------------------------------


def encode_infer_response(
    model_name: str, output_name: str, outputs: Sequence[Any], *, request_id: str | None = None
) -> dict[str, Any]:
    """One ``$inference_response`` with the outputs stacked into one FP32 tensor."""
    batch = np.stack([np.asarray(out, dtype=np.float32) for out in outputs])
    response: dict[str, Any] = {
        "model_name": model_name,
        "outputs": [{"name": output_name, "shape": list(batch.shape), "datatype": FP32, "data": batch.ravel().tolist()}],
    }
    if request_id is not None:
        response["id"] = request_id
    return response


def encode_infer_response_binary(
    model_name: str, output_name: str, outputs: Sequence[Any], *, request_id: str | None = None
) -> tuple[bytes, int]:
    """``(body, header length)`` of a response whose output tensor travels as binary data."""
    batch = np.stack([np.asarray(out, dtype=np.float32) for out in outputs])
    data = batch.astype("<f4", copy=False).tobytes()
    response: dict[str, Any] = {
        "model_name": model_name,
        "outputs": [
            {"name": output_name, "shape": list(batch.shape), "datatype": FP32, "parameters": {"binary_data_size": len(data)}}
        ],
    }
    if request_id is not None:
        response["id"] = request_id
    header = json.dumps(response).encode()
    return header + data, len(header)


def wants_binary_output(request: Mapping[str, Any], output_name: str) -> bool:
    """Whether a request asks for ``output_name`` as binary data (server side).

    As in Triton: the output's own ``parameters.binary_data`` decides when it is given,
    else the request's ``parameters.binary_data_output``, else JSON.  Raises
    :class:`ProtocolError` if ``outputs`` names an output the model does not have, or a
    flag is not a boolean, so a typo is a 400 rather than a silently ignored wish.
    """
    params = request.get("parameters")
    if params is not None and not isinstance(params, dict):
        raise ProtocolError(f"request.parameters must be a JSON object, got {type(params).__name__}")
    binary = _bool_param(params or {}, "binary_data_output", "request.parameters")
    outputs = request.get("outputs")
    if outputs is None:
        return bool(binary)
    if not isinstance(outputs, list):
        raise ProtocolError(f"request.outputs must be a list, got {type(outputs).__name__}")
    for i, out in enumerate(outputs):
        where = f"request.outputs[{i}]"
        name = _require_str(_require_object(out, where), "name", where)
        if name != output_name:
            raise ProtocolError(f"{where}.name is {name!r}; this model's output is {output_name!r}")
        out_params = out.get("parameters")
        if out_params is not None and not isinstance(out_params, dict):
            raise ProtocolError(f"{where}.parameters must be a JSON object, got {type(out_params).__name__}")
        own = _bool_param(out_params or {}, "binary_data", f"{where}.parameters")
        if own is not None:
            binary = own
    return bool(binary)


def _bool_param(params: Mapping[str, Any], key: str, where: str) -> bool | None:
    value = params.get(key)
    if value is not None and not isinstance(value, bool):
        raise ProtocolError(f"{where}.{key} must be true or false, got {value!r}")
    return value


def decode_infer_response(
    body: Any, batch_size: int, output_name: str | None = None, binary: bytes = b""
) -> list[np.ndarray]:
    """The ``batch_size`` outputs of an ``$inference_response`` (client side).

    The tensor named ``output_name`` is used (or the only one, if there is one and no name
    is given).  ``binary`` is the part of the body after the JSON header (binary
    extension).  Anything malformed raises ``BackendError(kind="BadResponse")``.
    """
    try:
        obj = _require_object(body, "response")
        _require_str(obj, "model_name", "response")
        outputs = obj.get("outputs")
        if not isinstance(outputs, list) or not outputs:
            raise ProtocolError("response.outputs must be a non-empty list")
        index = _pick_output(outputs, output_name)
        # binary tensors lie in the body in the order of the outputs: skip those before ours
        chunks = _BinaryChunks(binary)
        for i, other in enumerate(outputs[:index]):
            chunks.skip(_binary_size(other, f"response.outputs[{i}]"), f"response.outputs[{i}]")
        where = f"response.outputs[{index}]"
        array = decode_tensor(_require_object(outputs[index], where), where, allowed=NUMERIC_DATATYPES, binary=chunks)
        if array.ndim < 1 or array.shape[0] != batch_size:
            raise ProtocolError(f"{where}.shape is {list(array.shape)}; expected batch dimension {batch_size}")
    except ProtocolError as exc:
        raise BackendError(f"bad inference response: {exc}", kind="BadResponse") from None
    return list(array)


def _pick_output(outputs: list[Any], output_name: str | None) -> int:
    names = [o.get("name") if isinstance(o, dict) else None for o in outputs]
    if output_name is not None and output_name in names:
        return names.index(output_name)
    if len(outputs) == 1:
        return 0
    raise ProtocolError(f"response has outputs {names}; expected one named {output_name!r}")


# -- tensors ----------------------------------------------------------------------------


def decode_tensor(
    tensor: Mapping[str, Any],
    where: str,
    *,
    allowed: Mapping[str, np.dtype[Any]],
    binary: _BinaryChunks | None = None,
) -> np.ndarray:
    """A tensor object (``name``/``shape``/``datatype``/``data`` or binary) as a numpy array of its shape."""
    datatype = _require_str(tensor, "datatype", where)
    if datatype not in allowed:
        raise ProtocolError(f"{where}.datatype is {datatype!r}; expected one of {', '.join(allowed)}")
    shape = tensor.get("shape")
    if not isinstance(shape, list) or any(not _is_int(d) or d < 0 for d in shape):
        raise ProtocolError(f"{where}.shape must be a list of integers >= 0, got {shape!r}")
    expected = math.prod(shape)
    size = _binary_size(tensor, where)
    if size is not None:
        if "data" in tensor:
            raise ProtocolError(f"{where} has both data and parameters.binary_data_size")
        dtype = allowed[datatype]
        if size != expected * dtype.itemsize:
            raise ProtocolError(
                f"{where}.parameters.binary_data_size is {size}; shape {shape} of {datatype} needs "
                f"{expected * dtype.itemsize} bytes"
            )
        raw = (binary or _BinaryChunks(b"")).take(size, where)
        # little-endian on the wire, whatever this machine is; frombuffer never unpickles
        return np.frombuffer(raw, dtype=dtype.newbyteorder("<")).astype(dtype, copy=False).reshape(shape)
    if "data" not in tensor:
        raise ProtocolError(f"{where}.data is missing")
    data = tensor["data"]
    if not isinstance(data, list):
        raise ProtocolError(f"{where}.data must be a list, got {type(data).__name__}")
    try:
        values = np.asarray(data)
    except ValueError as exc:  # ragged nesting
        raise ProtocolError(f"{where}.data is not a regular array: {exc}") from None
    kinds = "b" if datatype == "BOOL" else "iuf" if datatype.startswith("FP") else "iu"
    if values.size and values.dtype.kind not in kinds:
        raise ProtocolError(f"{where}.data holds {values.dtype.kind!r}-kind values, not {datatype} numbers")
    if values.size != expected:
        raise ProtocolError(f"{where}.data has {values.size} values; shape {shape} needs {expected}")
    return values.astype(allowed[datatype], copy=False).reshape(shape)


class _BinaryChunks:
    """The binary part of a body, handed out tensor by tensor in order."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self._offset = 0

    def take(self, size: int, where: str) -> memoryview:
        end = self._offset + size
        if end > len(self._data):
            raise ProtocolError(
                f"{where}.parameters.binary_data_size is {size}; only {len(self._data) - self._offset} bytes of "
                "binary data are left in the body"
            )
        chunk, self._offset = self._data[self._offset : end], end
        return chunk

    def skip(self, size: int | None, where: str) -> None:
        if size is not None:
            self.take(size, where)

    def check_used(self, where: str) -> None:
        left = len(self._data) - self._offset
        if left:
            raise ProtocolError(f"{where} body has {left} bytes of binary data that no tensor claims")


def _binary_size(tensor: Any, where: str) -> int | None:
    """``parameters.binary_data_size`` of a tensor object, or None if it has none."""
    params = tensor.get("parameters") if isinstance(tensor, dict) else None
    if params is None:
        return None
    if not isinstance(params, dict):
        raise ProtocolError(f"{where}.parameters must be a JSON object, got {type(params).__name__}")
    size = params.get("binary_data_size")
    if size is None:
        return None
    if not _is_int(size) or size < 0:
        raise ProtocolError(f"{where}.parameters.binary_data_size must be an integer >= 0, got {size!r}")
    return size


# -- helpers ----------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _require_object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ProtocolError(f"{where} must be a JSON object, got {type(value).__name__}")
    return value


def _require_str(obj: Mapping[str, Any], key: str, where: str) -> str:
    if key not in obj:
        raise ProtocolError(f"{where}.{key} is missing")
    value = obj[key]
    if not isinstance(value, str):
        raise ProtocolError(f"{where}.{key} must be a string, got {value!r}")
    return value
