"""RemoteBackend against tiny fake v2 servers: what it retries, what it refuses, what it reports."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from aiohttp import web

from clawlet_tui.engine.errors import BackendError, ConfigError
from clawlet_tui.remote import RemoteBackend

from .conftest import METADATA, MODEL, echo

X = [np.arange(8, dtype=np.float32), np.ones(8, dtype=np.float32)]


async def started(url: str, name: str | None = MODEL, **kwargs) -> RemoteBackend:
    backend = RemoteBackend(url, name, **kwargs)
    await backend.start()
    return backend


async def test_runs_a_batch_as_one_request(fake_v2) -> None:
    fake = await fake_v2()
    backend = await started(fake.url)
    try:
        outputs = await backend.run(X, 5.0)
        assert fake.hits == 1
        assert all(np.array_equal(a, b) for a, b in zip(outputs, X))
        assert backend.model_info.make_input(3).shape == (8,)
        assert "m at" in backend.model_info.describe()
    finally:
        await backend.close()


def reply(status: int = 200, *, json=None, text: str | None = None):
    async def handler(request: web.Request) -> web.Response:
        if json is not None:
            return web.json_response(json, status=status)
        return web.Response(status=status, text=text or "")

    return handler


@pytest.mark.parametrize(
    ("handler", "kind", "message"),
    [
        (reply(text="<html>surprise</html>"), "BadResponse", "not JSON"),
        (reply(json={"outputs": []}), "BadResponse", "model_name is missing"),
        (reply(json={"model_name": MODEL, "outputs": [{"name": "y", "shape": [3, 8], "datatype": "FP32", "data": [0] * 24}]}),
         "BadResponse", "expected batch dimension 2"),
        (reply(json={"model_name": MODEL, "outputs": [{"name": "y", "shape": [2, 8], "datatype": "FP32", "data": [0] * 15}]}),
         "BadResponse", "has 15 values"),
        (reply(json={"model_name": MODEL, "outputs": [{"name": "y", "shape": [2, 1], "datatype": "BYTES", "data": ["a", "b"]}]}),
         "BadResponse", "datatype is 'BYTES'"),
        (reply(500, json={"error": "model exploded"}), "HTTP500", "model exploded"),
        (reply(503, text="overloaded"), "HTTP503", "overloaded"),
        (reply(400, json={"error": "bad tensor"}), "HTTP400", "bad tensor"),
        (reply(404, json={"error": "no such model"}), "HTTP404", "no such model"),
    ],
)
async def test_bad_answers_are_backend_errors_and_never_retried(fake_v2, handler, kind: str, message: str) -> None:
    fake = await fake_v2(handler)
    backend = await started(fake.url, retries=3, backoff_s=0.0)
    try:
        with pytest.raises(BackendError) as info:
            await backend.run(X, 5.0)
        assert info.value.kind == kind
        assert message in str(info.value)
        assert fake.hits == 1, "an HTTP answer is never retried"
        assert backend.pool_stats().in_use == 0
    finally:
        await backend.close()


async def test_bad_answers_through_the_engine_are_counted_not_fatal(fake_v2, remote_engine) -> None:
    answers = iter([reply(500, json={"error": "boom"}), reply(text="garbage")])

    async def handler(request: web.Request) -> web.StreamResponse:
        return await next(answers, echo)(request)

    fake = await fake_v2(handler)
    engine, _ = await remote_engine(fake.url, MODEL, enable_cache=False, enable_batching=False)
    for _ in range(2):
        with pytest.raises(BackendError):
            await engine.submit(X[0])
    assert np.array_equal(await engine.submit(X[1]), X[1])
    outcomes = engine.snapshot().outcomes
    assert dict(outcomes.errors_by_kind) == {"HTTP500": 1, "BadResponse": 1}
    assert outcomes.succeeded == 1 and engine.running


async def test_dropped_connections_are_retried_with_backoff(fake_v2) -> None:
    drops = 2

    async def flaky(request: web.Request) -> web.StreamResponse:
        nonlocal drops
        if drops:
            drops -= 1
            assert request.transport is not None
            request.transport.close()  # the client sees the server disconnect
            return web.Response()
        return await echo(request)

    fake = await fake_v2(flaky)
    backend = await started(fake.url, retries=2, backoff_s=0.001)
    try:
        outputs = await backend.run(X, 5.0)
        assert all(np.array_equal(a, b) for a, b in zip(outputs, X))
        assert fake.hits == 3
        stats = backend.pool_stats()
        assert stats.discarded == 2  # reconnects
        assert stats.created >= 2  # a fresh connection after each drop
    finally:
        await backend.close()


async def test_retries_run_out(fake_v2) -> None:
    async def always_drop(request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        request.transport.close()
        return web.Response()

    fake = await fake_v2(always_drop)
    backend = await started(fake.url, retries=1, backoff_s=0.0)
    try:
        with pytest.raises(BackendError) as info:
            await backend.run(X, 5.0)
        assert info.value.kind == "ConnectionError"
        assert fake.hits == 2
    finally:
        await backend.close()


async def test_read_timeout_is_not_retried(fake_v2) -> None:
    release = asyncio.Event()

    async def stuck(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(status=500)

    fake = await fake_v2(stuck)
    backend = await started(fake.url, retries=3)
    try:
        with pytest.raises(BackendError) as info:
            await backend.run(X, 0.2)
        assert info.value.kind == "Timeout"
        assert fake.hits == 1
        assert backend.pool_stats().in_use == 0
    finally:
        release.set()
        await backend.close()


async def test_start_explains_an_unreachable_server(closed_port) -> None:
    backend = RemoteBackend(f"http://127.0.0.1:{closed_port()}", MODEL, retries=0)
    with pytest.raises(BackendError) as info:
        await backend.start()
    assert info.value.kind == "ConnectionError"
    assert "cannot reach" in str(info.value)
    assert backend._session is None


async def test_start_explains_a_server_that_is_not_ready(fake_v2) -> None:
    fake = await fake_v2(ready=503)
    with pytest.raises(BackendError, match="not ready"):
        await RemoteBackend(fake.url, MODEL).start()


async def test_start_explains_an_unknown_model(fake_v2) -> None:
    fake = await fake_v2()
    with pytest.raises(BackendError) as info:
        await RemoteBackend(fake.url, "other").start()
    assert info.value.kind == "NotReady" and "'other'" in str(info.value)


async def test_start_explains_a_model_without_batch_dimension(fake_v2) -> None:
    metadata = {**METADATA, "inputs": [{"name": "x", "datatype": "FP32", "shape": [8]}]}
    fake = await fake_v2(metadata=metadata)
    with pytest.raises(BackendError) as info:
        await RemoteBackend(fake.url, MODEL).start()
    assert info.value.kind == "UnsupportedModel"
    assert "max_batch_size > 0" in str(info.value)


async def test_start_rejects_malformed_metadata(fake_v2) -> None:
    fake = await fake_v2(metadata={"name": MODEL})
    with pytest.raises(BackendError) as info:
        await RemoteBackend(fake.url, MODEL).start()
    assert info.value.kind == "BadResponse"


async def test_model_name_from_a_triton_repository_index(fake_v2) -> None:
    async def index(request: web.Request) -> web.Response:
        return web.json_response([{"name": MODEL, "version": "1", "state": "READY"}])

    fake = await fake_v2(routes=[web.post("/v2/repository/index", index)])
    backend = await started(fake.url, None)
    try:
        assert backend.name == MODEL
    finally:
        await backend.close()


async def test_no_model_name_and_no_way_to_find_one(fake_v2) -> None:
    fake = await fake_v2()
    with pytest.raises(BackendError) as info:
        await RemoteBackend(fake.url).start()
    assert info.value.kind == "UnknownModel"
    assert "pass the model name" in str(info.value)


async def test_run_before_start_is_a_backend_error() -> None:
    with pytest.raises(BackendError, match="not started|has not started"):
        await RemoteBackend("http://127.0.0.1:9", MODEL).run(X, 1.0)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"url": "localhost:8000"}, "backend"),
        ({"max_connections": 0}, "max_connections"),
        ({"retries": -1}, "retries"),
        ({"read_timeout_s": 0}, "read_timeout_s"),
    ],
)
def test_arguments_are_validated(kwargs, field: str) -> None:
    kwargs = {"url": "http://127.0.0.1:8000", **kwargs}
    with pytest.raises(ConfigError) as info:
        RemoteBackend(**kwargs)
    assert info.value.field == field
