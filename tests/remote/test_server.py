"""``clawlet-tui serve`` over raw HTTP: every endpoint, every bad request answered, never a crash."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import aiohttp
import numpy as np
import pytest

from clawlet_tui.remote import InferenceServer, running_server, serve

from .conftest import LAYERS


def infer_body(rows: int = 2, dim: int = 8, **changes) -> dict:
    tensor = {"name": "input", "shape": [rows, dim], "datatype": "FP32", "data": [0.5] * (rows * dim), **changes}
    return {"id": "req-1", "inputs": [tensor]}


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


async def test_health_and_metadata(mlp, server_config, http) -> None:
    async with running_server(mlp, engine_config=server_config) as server:
        base = server.url
        async with http.get(f"{base}/v2/health/live") as r:
            assert r.status == 200
        async with http.get(f"{base}/v2/health/ready") as r:
            assert r.status == 200
        async with http.get(f"{base}/v2") as r:
            assert (await r.json())["models"] == [mlp.name]
        for path in (f"/v2/models/{mlp.name}", f"/v2/models/{mlp.name}/versions/1"):
            async with http.get(base + path) as r:
                meta = await r.json()
            assert meta["name"] == mlp.name and meta["versions"] == ["1"]
            assert meta["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, LAYERS[0]]}]
            assert meta["outputs"] == [{"name": "output", "datatype": "FP32", "shape": [-1, LAYERS[-1]]}]
        async with http.get(f"{base}/v2/models/{mlp.name}/ready") as r:
            assert r.status == 200


async def test_infer_returns_the_models_outputs(mlp, server_config, http) -> None:
    async with running_server(mlp, engine_config=server_config) as server:
        x = np.stack([mlp.make_input(k) for k in range(3)])
        body = infer_body(3, data=x.ravel().tolist())
        async with http.post(f"{server.url}/v2/models/{mlp.name}/infer", json=body) as r:
            assert r.status == 200
            response = await r.json()
        assert response["model_name"] == mlp.name and response["id"] == "req-1"
        out = response["outputs"][0]
        assert out["shape"] == [3, LAYERS[-1]] and out["datatype"] == "FP32"
        got = np.asarray(out["data"], np.float32).reshape(3, -1)
        assert np.allclose(got, np.stack(mlp.predict(list(x))), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("POST", "/v2/models/{name}/infer", b"{not json", 400, "not JSON"),
        ("POST", "/v2/models/{name}/infer", b"[1, 2]", 400, "must be a JSON object"),
        ("POST", "/v2/models/{name}/infer", infer_body(dim=7), 400, "this model takes [-1, 8]"),
        ("POST", "/v2/models/{name}/infer", infer_body(data=[0.5] * 3), 400, "has 3 values"),
        ("POST", "/v2/models/{name}/infer", infer_body(datatype="INT64"), 400, "datatype is 'INT64'"),
        ("POST", "/v2/models/{name}/infer", infer_body(name="x"), 400, "input is 'input'"),
        ("POST", "/v2/models/{name}/infer", {"inputs": "x"}, 400, "non-empty list"),
        ("POST", "/v2/models/nope/infer", infer_body(), 404, "unknown model 'nope'"),
        ("POST", "/v2/models/{name}/versions/7/infer", infer_body(), 404, "unknown version '7'"),
        ("GET", "/v2/models/nope", None, 404, "unknown model"),
        ("GET", "/v2/nothing/here", None, 404, "Not Found"),
        ("GET", "/v2/models/{name}/infer", None, 405, "Method Not Allowed"),
    ],
)
async def test_bad_requests_get_json_errors(mlp, server_config, http, method, path, body, status, message) -> None:
    async with running_server(mlp, engine_config=server_config) as server:
        url = server.url + path.format(name=mlp.name)
        kwargs = {"data": body} if isinstance(body, bytes) else {"json": body} if body is not None else {}
        async with http.request(method, url, **kwargs) as r:
            assert r.status == status
            error = (await r.json())["error"]
        assert message in error
        async with http.post(f"{server.url}/v2/models/{mlp.name}/infer", json=infer_body()) as r:
            assert r.status == 200, "the server lives on"
        assert server.stats.by_status[status] == 1


async def test_a_body_over_the_limit_is_413(mlp, server_config, http) -> None:
    server = InferenceServer(mlp, engine_config=server_config, max_request_bytes=1000)
    await server.start("127.0.0.1", 0)
    try:
        async with http.post(f"{server.url}/v2/models/{mlp.name}/infer", json=infer_body(rows=64)) as r:
            assert r.status == 413
            assert "error" in await r.json()
    finally:
        await server.stop()


async def test_serve_runs_until_stopped(mlp, server_config, http) -> None:
    ready, stop = asyncio.Event(), asyncio.Event()
    urls: list[str] = []
    task = asyncio.create_task(
        serve(mlp, port=0, engine_config=server_config, ready_event=ready, stop_event=stop, announce=urls.append)
    )
    await asyncio.wait_for(ready.wait(), 10)
    async with http.get(f"{urls[0]}/v2/health/ready") as r:
        assert r.status == 200
    stop.set()
    await asyncio.wait_for(task, 10)
    with pytest.raises(aiohttp.ClientConnectionError):
        async with http.get(f"{urls[0]}/v2/health/ready"):
            pass


async def test_a_taken_port_is_a_clear_error(mlp, server_config) -> None:
    from clawlet_tui.remote import ServeError

    async with running_server(mlp, engine_config=server_config) as first:
        with pytest.raises(ServeError, match="cannot listen"):
            async with running_server(mlp, port=first.port, engine_config=server_config):
                pass


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
async def test_run_server_stops_cleanly_on_sigterm(tmp_path, http) -> None:
    code = (
        "import sys; from clawlet_tui.engine import OptimizationConfig; from clawlet_tui.remote import run_server; "
        f"sys.exit(run_server({{'kind': 'mlp', 'layers': {list(LAYERS)}}}, '127.0.0.1', 0, "
        f"OptimizationConfig(l2_cache_dir={str(tmp_path)!r})))"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        assert "clawlet-tui serve: mlp-8x16x8 at http://127.0.0.1:" in line, line
        url = line.split(" at ")[1].split("/v2/")[0]
        async with http.get(f"{url}/v2/health/ready") as r:
            assert r.status == 200
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
