from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from clawlet_tui.engine.errors import BackendError
from clawlet_tui.remote.protocol import (
    ModelMetadata,
    ProtocolError,
    TensorSpec,
    decode_infer_request,
    decode_infer_response,
    encode_infer_request,
    encode_infer_response,
)

SPEC = TensorSpec("x", "FP32", (-1, 3))
finite = st.floats(allow_nan=False, allow_infinity=False, width=32)


@given(arrays(np.float32, st.tuples(st.integers(1, 6), st.just(3)), elements=finite))
def test_request_round_trip(batch: np.ndarray) -> None:
    request = encode_infer_request(list(batch), "x")
    assert request["inputs"][0]["shape"] == [len(batch), 3]
    assert request["inputs"][0]["datatype"] == "FP32"
    assert np.array_equal(decode_infer_request(request, SPEC), batch)


@given(arrays(np.float32, st.tuples(st.integers(1, 6), st.integers(1, 4)), elements=finite))
def test_response_round_trip(batch: np.ndarray) -> None:
    response = encode_infer_response("m", "y", list(batch), request_id="r1")
    assert response["model_name"] == "m" and response["id"] == "r1"
    outputs = decode_infer_response(response, len(batch), "y")
    assert len(outputs) == len(batch)
    assert all(np.array_equal(a, b) for a, b in zip(outputs, batch))


def test_nested_data_is_accepted() -> None:
    tensor = {"name": "x", "shape": [2, 3], "datatype": "FP32", "data": [[1, 2, 3], [4, 5, 6]]}
    assert decode_infer_request({"inputs": [tensor]}, SPEC).tolist() == [[1, 2, 3], [4, 5, 6]]


def _request(**changes):
    tensor = {"name": "x", "shape": [2, 3], "datatype": "FP32", "data": [0.0] * 6, **changes}
    return {"inputs": [{k: v for k, v in tensor.items() if v is not None}]}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "request must be a JSON object"),
        ({}, "request.inputs must be a non-empty list"),
        ({"inputs": [_request()["inputs"][0]] * 2}, "has 2 tensors"),
        (_request(name="z"), "name is 'z'"),
        (_request(datatype="INT64"), "datatype is 'INT64'"),
        (_request(datatype=None), "datatype is missing"),
        (_request(data=None), "data is missing"),
        (_request(data=[0.0] * 5), "has 5 values; shape [2, 3] needs 6"),
        (_request(data=["a"] * 6), "not FP32 numbers"),
        (_request(data=[None] * 6), "not FP32 numbers"),
        (_request(data=[[0.0], [0.0, 0.0]]), "not a regular array"),
        (_request(shape=[3, 2]), "this model takes [-1, 3]"),
        (_request(shape=[2, -3]), "integers >= 0"),
        (_request(shape="2x3"), "integers >= 0"),
    ],
)
def test_bad_requests_say_what_is_wrong(body, message: str) -> None:
    with pytest.raises(ProtocolError, match=None) as info:
        decode_infer_request(body, SPEC)
    assert message in str(info.value)


def _response(**changes):
    tensor = {"name": "y", "shape": [2, 2], "datatype": "FP32", "data": [0.0] * 4, **changes}
    return {"model_name": "m", "outputs": [{k: v for k, v in tensor.items() if v is not None}]}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("garbage", "response must be a JSON object"),
        ({"outputs": []}, "model_name is missing"),
        ({"model_name": "m"}, "outputs must be a non-empty list"),
        (_response(shape=[3, 2], data=[0.0] * 6), "expected batch dimension 2"),
        (_response(data=[0.0] * 3), "has 3 values"),
        (_response(datatype="BYTES"), "datatype is 'BYTES'"),
        (_response(data=[True] * 4), "not FP32 numbers"),
        ({"model_name": "m", "outputs": [_response()["outputs"][0], {**_response()["outputs"][0], "name": "z"}]}, None),
    ],
)
def test_bad_responses_are_backend_errors(body, message: str | None) -> None:
    if message is None:  # two outputs and the wanted one named: fine
        assert len(decode_infer_response(body, 2, "z")) == 2
        with pytest.raises(BackendError, match="expected one named 'q'"):
            decode_infer_response(body, 2, "q")
        return
    with pytest.raises(BackendError) as info:
        decode_infer_response(body, 2, "y")
    assert info.value.kind == "BadResponse"
    assert message in str(info.value)


def test_other_numeric_output_types_are_converted() -> None:
    body = {"model_name": "m", "outputs": [{"name": "y", "shape": [2], "datatype": "INT64", "data": [1, 2]}]}
    outputs = decode_infer_response(body, 2)
    assert [o.dtype for o in outputs] == [np.dtype(np.int64)] * 2


def test_metadata_round_trip_and_batchable_input() -> None:
    meta = ModelMetadata("m", (SPEC,), (TensorSpec("y", "FP32", (-1, 2)),), ("1",), "p")
    again = ModelMetadata.from_dict(meta.to_dict())
    assert again == meta
    assert again.batchable_input().item_shape == (3,)


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ([{"name": "x", "datatype": "FP32", "shape": [8]}], "max_batch_size > 0"),
        ([{"name": "x", "datatype": "INT64", "shape": [-1, 8]}], "clawlet sends FP32"),
        ([{"name": "x", "datatype": "FP32", "shape": [-1, -1]}], "fixed item dimensions"),
        ([{"name": "a", "datatype": "FP32", "shape": [-1, 8]}] * 2, "has 2 inputs"),
    ],
)
def test_unbatchable_models_are_explained(inputs, message: str) -> None:
    meta = ModelMetadata.from_dict({"name": "m", "inputs": inputs, "outputs": []})
    with pytest.raises(ProtocolError) as info:
        meta.batchable_input()
    assert message in str(info.value)


@pytest.mark.parametrize(
    "data",
    [
        {"inputs": [], "outputs": []},
        {"name": "m", "inputs": {}, "outputs": []},
        {"name": "m", "inputs": [{"name": "x", "datatype": "FP32", "shape": [-2]}], "outputs": []},
        {"name": "m", "inputs": [{"name": "x", "shape": [-1]}], "outputs": []},
        {"name": "m", "versions": "1", "inputs": [], "outputs": []},
    ],
)
def test_malformed_metadata(data) -> None:
    with pytest.raises(ProtocolError):
        ModelMetadata.from_dict(data)


def test_encode_refuses_ragged_batches() -> None:
    with pytest.raises(ProtocolError, match="one shape"):
        encode_infer_request([np.zeros(3), np.zeros(4)], "x")
    with pytest.raises(ProtocolError, match="empty"):
        encode_infer_request([], "x")
