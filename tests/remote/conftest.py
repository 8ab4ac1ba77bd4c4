"""Fixtures for the remote backend tests.

* ``fake_v2(infer=..., metadata=..., ready=..., routes=...)`` starts a tiny aiohttp server speaking just enough of v2
  for a :class:`RemoteBackend` to start, with an infer handler the test chooses (garbage,
  wrong shapes, errors); ``fake.hits`` counts infer calls.  Stopped at teardown.
* ``remote_engine(url, **config_fields)`` builds a started engine on a RemoteBackend;
  stopped at teardown.
* ``closed_port()`` is a port on 127.0.0.1 that nothing listens on.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from clawlet_tui.engine import ClawletEngine, OptimizationConfig
from clawlet_tui.models import MLPModel
from clawlet_tui.remote import RemoteBackend

LAYERS = (8, 16, 8)
MODEL = "m"
METADATA = {
    "name": MODEL,
    "versions": ["1"],
    "platform": "fake",
    "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 8]}],
    "outputs": [{"name": "y", "datatype": "FP32", "shape": [-1, 8]}],
}


@pytest.fixture
def mlp() -> MLPModel:
    return MLPModel(layers=LAYERS)


@pytest.fixture
def server_config(tmp_path) -> OptimizationConfig:
    """The serving engine's config: no disk cache outside tmp_path, no warm-up calls (the
    tests' gated models would block a calibration)."""
    return OptimizationConfig(l2_cache_dir=str(tmp_path / "server-l2"), enable_l2=False, calibrate=False)


class FakeV2:
    def __init__(
        self,
        infer: Callable[[web.Request], Awaitable[web.StreamResponse]],
        metadata: Any,
        ready: int,
        routes: list[web.RouteDef],
    ) -> None:
        self.hits = 0
        self.url = ""
        self._infer = infer
        self._metadata = metadata
        #: the status of the readiness endpoints; a test may change it
        self.ready = ready
        self.app = web.Application()
        self.app.add_routes(
            [
                web.get("/v2/health/ready", self._health),
                web.get(f"/v2/models/{MODEL}/ready", self._health),
                web.get(f"/v2/models/{MODEL}", self._meta),
                web.post(f"/v2/models/{MODEL}/infer", self._infer_counted),
                *routes,
            ]
        )
        self.runner: web.AppRunner | None = None

    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(status=self.ready)

    async def _meta(self, request: web.Request) -> web.Response:
        return web.json_response(self._metadata)

    async def _infer_counted(self, request: web.Request) -> web.StreamResponse:
        self.hits += 1
        return await self._infer(request)

    async def start(self) -> None:
        self.runner = web.AppRunner(self.app, shutdown_timeout=1.0)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}"


async def echo(request: web.Request) -> web.Response:
    """A correct infer handler: returns the input tensor as output ``y``."""
    body = await request.json()
    tensor = body["inputs"][0]
    return web.json_response({"model_name": MODEL, "outputs": [{**tensor, "name": "y"}]})


@pytest.fixture
async def fake_v2():
    made: list[FakeV2] = []

    async def make(
        infer=echo, *, metadata: Any = METADATA, ready: int = 200, routes: list[web.RouteDef] | None = None
    ) -> FakeV2:
        fake = FakeV2(infer, metadata, ready, routes or [])
        await fake.start()
        made.append(fake)
        return fake

    yield make
    for fake in made:
        assert fake.runner is not None
        await fake.runner.cleanup()


@pytest.fixture
async def remote_engine(tmp_path):
    engines: list[ClawletEngine] = []

    async def make(
        url: str, model_name: str | None = None, *, backend: dict[str, Any] | None = None, **fields: Any
    ) -> tuple[ClawletEngine, RemoteBackend]:
        remote = RemoteBackend(url, model_name, **(backend or {}))
        fields.setdefault("l2_cache_dir", str(tmp_path / "client-l2"))
        config = OptimizationConfig(**fields)
        engine = ClawletEngine(config, model=remote.model_info, backend=remote)
        engines.append(engine)
        await engine.start()
        return engine, remote

    yield make
    for engine in engines:
        await asyncio.wait_for(engine.stop(drain_timeout_s=1.0), 30)


@pytest.fixture
def closed_port() -> Callable[[], int]:
    def pick() -> int:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]

    return pick
