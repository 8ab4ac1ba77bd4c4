"""The engine on a RemoteBackend against ``clawlet-tui serve`` running in this process."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from clawlet_tui.engine.errors import BackendError
from clawlet_tui.models import MLPModel
from clawlet_tui.remote import running_server


async def test_remote_outputs_equal_in_process_outputs(mlp, server_config, remote_engine, accounted) -> None:
    async with running_server(mlp, engine_config=server_config) as server:
        engine, backend = await remote_engine(server.url, mlp.name, batch_size=8, batch_timeout_s=0.002)
        assert engine.snapshot().model_name == mlp.name
        payloads = [backend.model_info.make_input(k) for k in range(100)]
        assert all(np.array_equal(a, mlp.make_input(k)) for k, a in enumerate(payloads))
        outputs = await asyncio.gather(*(engine.submit(p, key=k) for k, p in enumerate(payloads)))
        expected = mlp.predict(payloads)
        # batching changes float summation order, hence the tolerance
        assert all(np.allclose(a, b, rtol=1e-5, atol=1e-5) for a, b in zip(outputs, expected))
        accounted(engine)
        assert server.stats.infer_requests < 100, "the client sends batches"
        assert engine.snapshot().pool.created >= 1


async def test_the_model_name_is_discovered(mlp, server_config, remote_engine) -> None:
    async with running_server(mlp, engine_config=server_config) as server:
        engine, backend = await remote_engine(server.url)
        assert backend.name == mlp.name
        assert engine.snapshot().model_name == mlp.name


async def test_in_flight_requests_never_exceed_the_pool(gates, server_config, remote_engine, wait_until) -> None:
    gate = gates(lambda x: x * 2, closed=True)
    config = server_config.replace(enable_cache=False)
    async with running_server(gate.model("gate"), engine_config=config) as server:
        engine, backend = await remote_engine(
            server.url, "gate", backend={"max_connections": 3}, enable_cache=False, batch_size=1, max_concurrent=16
        )
        assert backend.pool_stats().size == 3
        base = server.stats.infer_requests
        calls = [asyncio.create_task(engine.submit(np.full(16, k, np.float32))) for k in range(12)]
        await wait_until(lambda: backend.pool_stats().waits > 0 and server.stats.in_flight == 3)
        assert backend.pool_stats().in_use == 3
        gate.open()
        results = await asyncio.gather(*calls)
        assert [r[0] for r in results] == [2 * k for k in range(12)]
        assert server.stats.peak_in_flight == 3
        assert server.stats.infer_requests - base == 12
        stats = backend.pool_stats()
        assert stats.in_use == 0 and stats.created <= 3
        assert backend.slots.peak_busy == 3

        engine.update(pool_size=5)  # the engine resizes the backend
        assert backend.pool_stats().size == 5


async def test_a_stopped_server_gives_counted_errors_then_recovery(mlp, server_config, remote_engine) -> None:
    async with running_server(mlp, engine_config=server_config) as server:
        port = server.port
        engine, backend = await remote_engine(
            server.url, mlp.name, backend={"retries": 1, "backoff_s": 0.001}, enable_cache=False
        )
        assert len(await asyncio.gather(*(engine.submit(mlp.make_input(k)) for k in range(20)))) == 20

    results = await asyncio.gather(*(engine.submit(mlp.make_input(k)) for k in range(20, 30)), return_exceptions=True)
    assert all(isinstance(r, BackendError) and r.kind == "ConnectionError" for r in results), results
    errors = dict(engine.snapshot().outcomes.errors_by_kind)
    assert errors == {"ConnectionError": 10}
    assert engine.running

    async with running_server(mlp, port=port, engine_config=server_config):
        outputs = await asyncio.gather(*(engine.submit(mlp.make_input(k)) for k in range(30, 40)))
        expected = mlp.predict([mlp.make_input(k) for k in range(30, 40)])
        assert all(np.allclose(a, b, rtol=1e-5, atol=1e-5) for a, b in zip(outputs, expected))
    snap = engine.snapshot()
    assert snap.outcomes.succeeded == 30 and snap.outcomes.failed == 10
    assert snap.pool.discarded >= 1  # reconnects were attempted


async def test_graceful_stop_finishes_requests_in_progress(gates, server_config, remote_engine, wait_until) -> None:
    gate = gates(closed=True)
    async with running_server(gate.model("gate"), engine_config=server_config.replace(enable_cache=False)) as server:
        engine, _ = await remote_engine(server.url, "gate", enable_cache=False)
        call = asyncio.create_task(engine.submit(np.ones(16, np.float32)))
        await wait_until(lambda: gate.entered == 1)
        stopping = asyncio.create_task(server.stop())
        await wait_until(lambda: not server._accepting)
        gate.open()
        assert np.array_equal(await call, np.ones(16, np.float32))
        await stopping
        assert not server.engine.running


async def test_a_failing_model_is_http_500_and_the_server_lives_on(server_config, remote_engine) -> None:
    from clawlet_tui.models import FaultyModel

    faulty = FaultyModel(MLPModel(layers=(8, 16, 8)), poison_every=2)
    async with running_server(faulty, engine_config=server_config.replace(enable_cache=False)) as server:
        engine, _ = await remote_engine(server.url, faulty.name, enable_cache=False, enable_batching=False)
        with pytest.raises(BackendError) as info:
            await engine.submit(faulty.make_input(1))  # poison
        assert info.value.kind == "HTTP500"
        assert "InjectedFault" in str(info.value)
        assert (await engine.submit(faulty.make_input(0))).shape == (8,)
