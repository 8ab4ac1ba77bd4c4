"""The binary tensor data extension: round trips, the server's and the client's handling, malformed bodies."""

from __future__ import annotations

import gzip
import json
import struct

import aiohttp
import numpy as np
import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from clawlet_tui.engine.errors import BackendError
from clawlet_tui.remote import RemoteBackend, running_server
from clawlet_tui.remote.protocol import (
    HEADER_LENGTH,
    ProtocolError,
    TensorSpec,
    decode_infer_request,
    decode_infer_response,
    encode_infer_request_binary,
    encode_infer_response_binary,
    split_body,
    wants_binary_output,
)

from .conftest import LAYERS, MODEL

SPEC = TensorSpec("x", "FP32", (-1, 3))
finite = st.floats(allow_nan=False, allow_infinity=False, width=32)


# -- protocol ---------------------------------------------------------------------------


@given(arrays(np.float32, st.tuples(st.integers(1, 6), st.just(3)), elements=finite))
def test_binary_request_round_trip_is_exact(batch: np.ndarray) -> None:
    body, header_length = encode_infer_request_binary(list(batch), "x", output_name="y")
    header, binary = split_body(body, str(header_length))
    assert header["inputs"][0]["parameters"] == {"binary_data_size": batch.nbytes}
    assert "data" not in header["inputs"][0]
    assert header["outputs"] == [{"name": "y", "parameters": {"binary_data": True}}]
    assert binary == batch.astype("<f4").tobytes()  # little-endian, row-major, no padding
    assert np.array_equal(decode_infer_request(header, SPEC, binary), batch)


@given(arrays(np.float32, st.tuples(st.integers(1, 6), st.integers(1, 4)), elements=finite))
def test_binary_response_round_trip_is_exact(batch: np.ndarray) -> None:
    body, header_length = encode_infer_response_binary("m", "y", list(batch), request_id="r1")
    header, binary = split_body(body, str(header_length))
    assert header["id"] == "r1"
    outputs = decode_infer_response(header, len(batch), "y", binary)
    assert all(np.array_equal(a, b) for a, b in zip(outputs, batch))


def test_a_response_output_after_another_binary_output_is_found() -> None:
    first = np.arange(6, dtype="<i4")
    second = np.arange(4, dtype="<f4").reshape(2, 2)
    header = {
        "model_name": "m",
        "outputs": [
            {"name": "other", "shape": [6], "datatype": "INT32", "parameters": {"binary_data_size": 24}},
            {"name": "y", "shape": [2, 2], "datatype": "FP32", "parameters": {"binary_data_size": 16}},
        ],
    }
    outputs = decode_infer_response(header, 2, "y", first.tobytes() + second.tobytes())
    assert np.array_equal(np.stack(outputs), second)


def test_a_request_without_binary_parameters_is_plain_json() -> None:
    request = {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}
    header, binary = split_body(json.dumps(request).encode(), None)
    assert binary == b"" and decode_infer_request(header, SPEC, binary).tolist() == [[1, 2, 3]]


def _binary_request(size: int | str = 12, shape=(1, 3), extra: bytes = b"", payload: bytes | None = None) -> tuple:
    tensor = {"name": "x", "shape": list(shape), "datatype": "FP32", "parameters": {"binary_data_size": size}}
    header = json.dumps({"inputs": [tensor]}).encode()
    data = payload if payload is not None else struct.pack("<3f", 1, 2, 3)
    return header + data + extra, len(header)


@pytest.mark.parametrize(
    ("body_and_length", "message"),
    [
        ((b'{"inputs": []}', "ten"), f"{HEADER_LENGTH} must be an integer, got 'ten'"),
        ((b'{"inputs": []}', "99"), f"{HEADER_LENGTH} is 99; the body has 14 bytes"),
        ((b'{"inputs": []}', "0"), f"{HEADER_LENGTH} is 0"),
        ((b'{"inputs": [] ', "13"), "not JSON"),
    ],
)
def test_a_bad_header_length_is_explained(body_and_length, message: str) -> None:
    body, length = body_and_length
    with pytest.raises(ProtocolError, match=message.replace("[", r"\[")):
        split_body(body, length)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(size=16), "binary_data_size is 16; shape [1, 3] of FP32 needs 12 bytes"),
        (dict(size=24, shape=(2, 3)), "binary_data_size is 24; only 12 bytes of binary data are left"),
        (dict(extra=b"\0\0\0\0"), "request body has 4 bytes of binary data that no tensor claims"),
        (dict(size="12"), "binary_data_size must be an integer >= 0, got '12'"),
        (dict(size=-4), "binary_data_size must be an integer >= 0, got -4"),
    ],
)
def test_a_malformed_binary_request_says_what_is_wrong(kwargs, message: str) -> None:
    body, length = _binary_request(**kwargs)
    header, binary = split_body(body, str(length))
    with pytest.raises(ProtocolError, match=message.replace("[", r"\[")):
        decode_infer_request(header, SPEC, binary)


def test_a_tensor_with_both_data_and_binary_size_is_refused() -> None:
    tensor = {"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3], "parameters": {"binary_data_size": 12}}
    with pytest.raises(ProtocolError, match="both data and parameters.binary_data_size"):
        decode_infer_request({"inputs": [tensor]}, SPEC, struct.pack("<3f", 1, 2, 3))


def test_which_requests_want_binary_output() -> None:
    assert wants_binary_output({"parameters": {"binary_data_output": True}}, "y")
    assert wants_binary_output({"outputs": [{"name": "y", "parameters": {"binary_data": True}}]}, "y")
    assert not wants_binary_output({"outputs": [{"name": "y", "parameters": {"binary_data": False}}]}, "y")
    assert not wants_binary_output({"outputs": [{"name": "y"}]}, "y")
    assert not wants_binary_output({"inputs": []}, "y")


def test_an_outputs_own_binary_data_overrides_the_request_wide_flag() -> None:
    # Triton's rule: "If binary_data is specified on an output it overrides this setting."
    everything_binary = {"parameters": {"binary_data_output": True}}
    assert not wants_binary_output({**everything_binary, "outputs": [{"name": "y", "parameters": {"binary_data": False}}]}, "y")
    assert wants_binary_output({**everything_binary, "outputs": [{"name": "y"}]}, "y")
    assert wants_binary_output({**everything_binary, "outputs": []}, "y")
    assert wants_binary_output({"parameters": {"binary_data_output": False},
                                "outputs": [{"name": "y", "parameters": {"binary_data": True}}]}, "y")


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        ({"outputs": [{"name": "z", "parameters": {"binary_data": True}}]}, "request.outputs[0].name is 'z'; this model's output is 'y'"),
        ({"outputs": [{"parameters": {"binary_data": True}}]}, "request.outputs[0].name is missing"),
        ({"outputs": {"name": "y"}}, "request.outputs must be a list"),
        ({"outputs": [{"name": "y", "parameters": {"binary_data": "yes"}}]}, "binary_data must be true or false, got 'yes'"),
        ({"outputs": [{"name": "y", "parameters": [1]}]}, "request.outputs[0].parameters must be a JSON object"),
        ({"parameters": {"binary_data_output": 1}}, "request.parameters.binary_data_output must be true or false, got 1"),
    ],
)
def test_a_malformed_output_request_says_what_is_wrong(request_, message: str) -> None:
    with pytest.raises(ProtocolError, match=message.replace("[", r"\[").replace("]", r"\]")):
        wants_binary_output(request_, "y")


# -- the server -------------------------------------------------------------------------


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


async def _post(http, url: str, body: bytes, header_length: int | None) -> tuple[int, bytes, str | None]:
    headers = {"Content-Type": "application/octet-stream" if header_length else "application/json"}
    if header_length is not None:
        headers[HEADER_LENGTH] = str(header_length)
    async with http.post(url, data=body, headers=headers) as r:
        return r.status, await r.read(), r.headers.get(HEADER_LENGTH)


@pytest.mark.parametrize(("binary_in", "binary_out"), [(True, True), (True, False), (False, True)])
async def test_the_server_takes_and_gives_binary_tensors(mlp, server_config, http, binary_in, binary_out) -> None:
    x = np.stack([mlp.make_input(k) for k in range(3)])
    tensor = {"name": "input", "shape": list(x.shape), "datatype": "FP32"}
    if binary_in:
        tensor["parameters"] = {"binary_data_size": x.nbytes}
    else:
        tensor["data"] = x.ravel().tolist()
    request = {"id": "r7", "inputs": [tensor]}
    if binary_out:
        request["outputs"] = [{"name": "output", "parameters": {"binary_data": True}}]
    header = json.dumps(request).encode()
    body = header + x.astype("<f4").tobytes() if binary_in else header
    async with running_server(mlp, engine_config=server_config) as server:
        async with http.get(f"{server.url}/v2") as r:
            assert "binary_tensor_data" in (await r.json())["extensions"]
        status, reply, reply_length = await _post(
            http, f"{server.url}/v2/models/{mlp.name}/infer", body, len(header) if binary_in else None
        )
    assert status == 200, reply
    assert (reply_length is not None) == binary_out
    head, binary = split_body(reply, reply_length)
    assert head["id"] == "r7"
    outputs = decode_infer_response(head, 3, "output", binary)
    assert all(np.allclose(a, b, rtol=1e-5, atol=1e-5) for a, b in zip(outputs, mlp.predict(list(x))))


@pytest.mark.parametrize(
    ("body", "header_length", "message"),
    [
        (b'{"inputs": []}', "4096", f"{HEADER_LENGTH} is 4096; the body has 14 bytes"),
        (b'{"inputs": []}', "x", f"{HEADER_LENGTH} must be an integer"),
    ],
)
async def test_the_server_answers_a_bad_header_length_with_400(mlp, server_config, http, body, header_length, message):
    async with running_server(mlp, engine_config=server_config) as server:
        async with http.post(
            f"{server.url}/v2/models/{mlp.name}/infer", data=body, headers={HEADER_LENGTH: header_length}
        ) as r:
            assert r.status == 400
            assert message in (await r.json())["error"]


@pytest.mark.parametrize(
    ("rows_declared", "size_declared", "rows_sent", "message"),
    [
        (2, 2 * LAYERS[0] * 4, 1, f"binary_data_size is {2 * LAYERS[0] * 4}; only {LAYERS[0] * 4} bytes of binary data are left"),
        (2, 2 * LAYERS[0] * 4 - 4, 2, f"binary_data_size is {2 * LAYERS[0] * 4 - 4}; shape [2, {LAYERS[0]}] of FP32 needs {2 * LAYERS[0] * 4} bytes"),
        (1, LAYERS[0] * 4, 2, f"request body has {LAYERS[0] * 4} bytes of binary data that no tensor claims"),
    ],
)
async def test_the_server_answers_malformed_binary_data_with_400(
    mlp, server_config, http, rows_declared, size_declared, rows_sent, message
) -> None:
    dim = LAYERS[0]
    tensor = {"name": "input", "shape": [rows_declared, dim], "datatype": "FP32",
              "parameters": {"binary_data_size": size_declared}}
    header = json.dumps({"inputs": [tensor]}).encode()
    data = np.ones((rows_sent, dim), "<f4").tobytes()
    async with running_server(mlp, engine_config=server_config) as server:
        status, reply, _ = await _post(http, f"{server.url}/v2/models/{mlp.name}/infer", header + data, len(header))
        assert server.stats.by_status[400] == 1
        assert server.engine.snapshot().outcomes.submitted == 0  # refused before the model ran
    assert status == 400
    assert message in json.loads(reply)["error"]


async def test_the_server_refuses_an_unknown_requested_output(mlp, server_config, http) -> None:
    x = mlp.make_input(0)[None, :]
    tensor = {"name": "input", "shape": list(x.shape), "datatype": "FP32", "parameters": {"binary_data_size": x.nbytes}}
    header = json.dumps({"inputs": [tensor], "outputs": [{"name": "logits", "parameters": {"binary_data": True}}]}).encode()
    async with running_server(mlp, engine_config=server_config) as server:
        status, reply, _ = await _post(http, f"{server.url}/v2/models/{mlp.name}/infer", header + x.tobytes(), len(header))
        assert server.engine.snapshot().outcomes.submitted == 0  # refused before the model ran
    assert status == 400
    assert json.loads(reply)["error"] == "request.outputs[0].name is 'logits'; this model's output is 'output'"


@pytest.mark.parametrize(
    ("parameters", "outputs", "binary_out"),
    [
        ({"binary_data_output": True}, None, True),
        ({"binary_data_output": True}, [{"name": "output", "parameters": {"binary_data": False}}], False),
        ({"binary_data_output": False}, [{"name": "output", "parameters": {"binary_data": True}}], True),
    ],
)
async def test_the_server_follows_tritons_rule_for_binary_outputs(
    mlp, server_config, http, parameters, outputs, binary_out
) -> None:
    x = np.stack([mlp.make_input(k) for k in range(2)])
    request = {"inputs": [{"name": "input", "shape": list(x.shape), "datatype": "FP32", "data": x.ravel().tolist()}],
               "parameters": parameters}
    if outputs is not None:
        request["outputs"] = outputs
    async with running_server(mlp, engine_config=server_config) as server:
        status, reply, reply_length = await _post(http, f"{server.url}/v2/models/{mlp.name}/infer", json.dumps(request).encode(), None)
    assert status == 200, reply
    assert (reply_length is not None) == binary_out
    head, binary = split_body(reply, reply_length)
    assert ("data" in head["outputs"][0]) != binary_out
    outputs_ = decode_infer_response(head, 2, "output", binary)
    assert all(np.allclose(a, b, rtol=1e-5, atol=1e-5) for a, b in zip(outputs_, mlp.predict(list(x))))


# -- the client -------------------------------------------------------------------------


async def test_the_client_uses_binary_when_the_server_lists_the_extension(mlp, server_config, remote_engine) -> None:
    async with running_server(mlp, engine_config=server_config) as server:
        engine, backend = await remote_engine(server.url, batch_size=8, batch_timeout_s=0.002)
        assert backend.binary and "binary tensors" in backend.model_info.describe()
        payloads = [backend.model_info.make_input(k) for k in range(40)]
        outputs = [await engine.submit(p, key=k) for k, p in enumerate(payloads)]
        assert all(np.allclose(a, b, rtol=1e-5, atol=1e-5) for a, b in zip(outputs, mlp.predict(payloads)))


async def test_binary_can_be_switched_off(mlp, server_config, remote_engine) -> None:
    async with running_server(mlp, engine_config=server_config) as server:
        engine, backend = await remote_engine(server.url, backend={"binary": False})
        assert not backend.binary and "JSON tensors" in backend.model_info.describe()
        payload = backend.model_info.make_input(3)
        assert np.allclose(await engine.submit(payload), mlp.predict([payload])[0], rtol=1e-5, atol=1e-5)


async def test_a_server_without_the_extension_gets_json(fake_v2) -> None:
    seen: list[str | None] = []

    async def echo_json(request: web.Request) -> web.Response:
        seen.append(request.headers.get(HEADER_LENGTH))
        tensor = (await request.json())["inputs"][0]
        return web.json_response({"model_name": MODEL, "outputs": [{**tensor, "name": "y"}]})

    fake = await fake_v2(echo_json, routes=[web.get("/v2", _server_meta(extensions=[]))])
    backend = RemoteBackend(fake.url, MODEL)
    await backend.start()
    try:
        assert not backend.binary
        x = [np.arange(8, dtype=np.float32)]
        assert np.array_equal((await backend.run(x, 5.0))[0], x[0])
        assert seen == [None]
    finally:
        await backend.close()


def _server_meta(extensions: list[str]):
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"name": "fake", "version": "0", "extensions": extensions})

    return handler


def _binary_reply(header: dict, data: bytes, header_length: int | None = None):
    async def handler(request: web.Request) -> web.Response:
        head = json.dumps(header).encode()
        length = len(head) if header_length is None else header_length
        return web.Response(body=head + data, headers={HEADER_LENGTH: str(length)})

    return handler


TWO_ROWS = np.arange(16, dtype="<f4").tobytes()
ROWS_REPLY = {"model_name": MODEL, "outputs": [{"name": "y", "shape": [2, 8], "datatype": "FP32",
                                               "parameters": {"binary_data_size": 64}}]}


@pytest.mark.parametrize(
    ("handler", "message"),
    [
        (_binary_reply({"model_name": MODEL, "outputs": [{"name": "y", "shape": [2, 8], "datatype": "FP32",
                        "parameters": {"binary_data_size": 64}}]}, TWO_ROWS, header_length=10_000),
         f"{HEADER_LENGTH} is 10000"),
        (_binary_reply({"model_name": MODEL, "outputs": [{"name": "y", "shape": [2, 8], "datatype": "FP32",
                        "parameters": {"binary_data_size": 64}}]}, TWO_ROWS[:40]),
         "only 40 bytes of binary data are left"),
        (_binary_reply({"model_name": MODEL, "outputs": [{"name": "y", "shape": [2, 8], "datatype": "FP32",
                        "parameters": {"binary_data_size": 60}}]}, TWO_ROWS),
         "binary_data_size is 60; shape [2, 8] of FP32 needs 64 bytes"),
        (_binary_reply({"model_name": MODEL, "outputs": [{"name": "y", "shape": [3, 8], "datatype": "FP32",
                        "parameters": {"binary_data_size": 96}}]}, TWO_ROWS + bytes(32)),
         "expected batch dimension 2"),
    ],
)
async def test_a_malformed_binary_response_is_a_bad_response(fake_v2, handler, message: str) -> None:
    fake = await fake_v2(handler, routes=[web.get("/v2", _server_meta(extensions=["binary_tensor_data"]))])
    backend = RemoteBackend(fake.url, MODEL)
    await backend.start()
    try:
        assert backend.binary
        with pytest.raises(BackendError) as caught:
            await backend.run([np.zeros(8, np.float32)] * 2, 5.0)
        assert caught.value.kind == "BadResponse"
        assert message in str(caught.value)
        assert fake.hits == 1  # never retried
    finally:
        await backend.close()


async def test_a_binary_response_to_a_json_request_is_read_too(fake_v2) -> None:
    header = {"model_name": MODEL, "outputs": [{"name": "y", "shape": [2, 8], "datatype": "FP32",
                                               "parameters": {"binary_data_size": 64}}]}
    fake = await fake_v2(_binary_reply(header, TWO_ROWS))
    backend = RemoteBackend(fake.url, MODEL, binary=False)
    await backend.start()
    try:
        outputs = await backend.run([np.zeros(8, np.float32)] * 2, 5.0)
        assert np.array_equal(np.stack(outputs), np.arange(16, dtype=np.float32).reshape(2, 8))
    finally:
        await backend.close()


async def test_the_client_asks_for_uncompressed_responses(fake_v2) -> None:
    # Triton gzips a response when the request offers gzip, which aiohttp does by default
    seen: list[str | None] = []

    async def record(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Accept-Encoding"))
        return await _binary_reply(ROWS_REPLY, TWO_ROWS)(request)

    fake = await fake_v2(record, routes=[web.get("/v2", _server_meta(extensions=["binary_tensor_data"]))])
    backend = RemoteBackend(fake.url, MODEL)
    await backend.start()
    try:
        await backend.run([np.zeros(8, np.float32)] * 2, 5.0)
        assert seen == ["identity"]
    finally:
        await backend.close()


async def test_a_compressed_binary_response_is_read_after_decompression(fake_v2) -> None:
    # as tritonclient does: Inference-Header-Content-Length counts in the decompressed body
    async def gzipped(request: web.Request) -> web.Response:
        head = json.dumps(ROWS_REPLY).encode()
        return web.Response(
            body=gzip.compress(head + TWO_ROWS), headers={HEADER_LENGTH: str(len(head)), "Content-Encoding": "gzip"}
        )

    fake = await fake_v2(gzipped)
    backend = RemoteBackend(fake.url, MODEL, binary=True)
    await backend.start()
    try:
        outputs = await backend.run([np.zeros(8, np.float32)] * 2, 5.0)
        assert np.array_equal(np.stack(outputs), np.arange(16, dtype=np.float32).reshape(2, 8))
    finally:
        await backend.close()


async def _refuse_binary(request: web.Request) -> web.Response:
    """What a v2 server without the extension does with a binary body: it is not JSON."""
    try:
        await request.json()
    except ValueError as exc:
        return web.json_response({"error": f"failed to parse the request JSON buffer: {exc}"}, status=400)
    return web.json_response({"error": "unexpected"}, status=500)


@pytest.mark.parametrize(("extensions", "hinted"), [([], True), (["binary_tensor_data"], False)])
async def test_a_refused_binary_request_is_reported_not_retried_as_json(fake_v2, extensions, hinted: bool) -> None:
    fake = await fake_v2(_refuse_binary, routes=[web.get("/v2", _server_meta(extensions=extensions))])
    backend = RemoteBackend(fake.url, MODEL, binary=True)
    await backend.start()
    try:
        with pytest.raises(BackendError) as caught:
            await backend.run([np.zeros(8, np.float32)] * 2, 5.0)
        assert caught.value.kind == "HTTP400"
        assert "failed to parse the request JSON buffer" in str(caught.value)
        assert ("use binary=False for JSON tensors" in str(caught.value)) == hinted
        assert fake.hits == 1
    finally:
        await backend.close()
