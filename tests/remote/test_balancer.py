"""BalancedBackend against controllable fake v2 servers: placement, bounds, ejection, re-admission, retries.

Health is driven by calling ``check_health()`` (``health_interval_s=None``: no timer
runs), so every ejection and re-admission happens at a step the test chooses.  The last
test runs three real ``clawlet-tui serve`` processes and kills one mid-run.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from aiohttp import web

from clawlet_tui.engine import ClawletEngine, OptimizationConfig
from clawlet_tui.engine.errors import BackendError, ConfigError
from clawlet_tui.engine.snapshot import snapshot_from_dict, snapshot_to_dict
from clawlet_tui.remote import BalancedBackend, running_server

from .conftest import METADATA, MODEL, echo

ITEM = np.ones(8, np.float32)


class Switch:
    """An infer handler the test controls: echo, or answer ``status``, or hold until opened."""

    def __init__(self) -> None:
        self.status = 200
        self.opened = asyncio.Event()
        self.opened.set()

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        await self.opened.wait()
        if self.status != 200:
            return web.json_response({"error": f"switched to {self.status}"}, status=self.status)
        return await echo(request)


@pytest.fixture
async def balanced():
    made: list[BalancedBackend] = []

    async def make(urls: list[str], **options) -> BalancedBackend:
        options.setdefault("health_interval_s", None)
        options.setdefault("seed", 7)
        options.setdefault("backoff_s", 0.0)
        backend = BalancedBackend(urls, MODEL, **options)
        made.append(backend)
        await backend.start()
        return backend

    yield make
    for backend in made:
        await backend.close()


def rows(backend: BalancedBackend) -> dict[str, object]:
    return {row.url: row for row in backend.server_stats()}


async def test_batches_are_spread_by_outstanding_and_bounded_per_server(fake_v2, balanced, wait_until) -> None:
    switches = [Switch(), Switch()]
    fakes = [await fake_v2(s) for s in switches]
    backend = await balanced([f.url for f in fakes], max_connections=3)
    for switch in switches:
        switch.opened.clear()
    calls = [asyncio.create_task(backend.run([ITEM], None)) for _ in range(10)]
    await wait_until(lambda: sum(s.batches for s in backend.server_stats()) == 10)
    stats = backend.server_stats()
    # least outstanding over two servers: 5 each; the wire carries at most 3 to each
    assert [s.batches for s in stats] == [5, 5]
    await wait_until(lambda: [f.hits for f in fakes] == [3, 3])
    assert [s.in_flight for s in backend.server_stats()] == [3, 3]
    assert [s.limit for s in backend.server_stats()] == [3, 3]
    for switch in switches:
        switch.opened.set()
    assert all(np.array_equal(out[0], ITEM) for out in await asyncio.gather(*calls))
    assert [f.hits for f in fakes] == [5, 5]
    assert [s.in_flight for s in backend.server_stats()] == [0, 0]
    assert backend.pool_stats().size == 6


async def test_a_failing_server_is_ejected_after_n_errors_in_a_row_and_its_batches_retried(fake_v2, balanced) -> None:
    bad, good = Switch(), Switch()
    fakes = [await fake_v2(bad), await fake_v2(good)]
    events: list[str] = []
    backend = await balanced([f.url for f in fakes], eject_after=3, on_event=lambda kind, text: events.append(text))
    bad.status = 503
    for _ in range(200):  # the picks between two idle servers are random: go until ejected
        assert np.array_equal((await backend.run([ITEM], None))[0], ITEM)  # every batch ends well
        if backend.server_stats()[0].ejected:
            break
    first = backend.server_stats()[0]
    assert first.ejected and first.ejections == 1
    assert first.errors == 3 and first.retried == 3
    assert backend.server_stats()[1].errors == 0
    assert events == [f"{fakes[0].url} out of the rotation: 3 failed batches in a row, the last HTTP503"]

    hits = fakes[0].hits
    for _ in range(20):
        await backend.run([ITEM], None)
    assert fakes[0].hits == hits, "an ejected server gets no batches"

    bad.status = 200  # fixed, but it still says it is not ready: stays out
    fakes[0].ready = 503
    await backend.check_health()
    assert backend.server_stats()[0].ejected
    fakes[0].ready = 200
    await backend.check_health()
    assert not backend.server_stats()[0].ejected
    assert events[-1] == f"{fakes[0].url} is ready: back in the rotation"
    for _ in range(50):
        await backend.run([ITEM], None)
    assert fakes[0].hits > hits, "a re-admitted server takes batches again"


async def test_a_readiness_failure_ejects_at_once(fake_v2, balanced) -> None:
    fakes = [await fake_v2(), await fake_v2()]
    backend = await balanced([f.url for f in fakes])
    fakes[1].ready = 503
    await backend.check_health()
    assert [s.ejected for s in backend.server_stats()] == [False, True]
    for _ in range(20):
        await backend.run([ITEM], None)
    assert [s.batches for s in backend.server_stats()] == [20, 0]
    assert fakes[1].hits == 0


async def test_a_model_error_is_neither_retried_nor_counted_towards_ejection(fake_v2, balanced) -> None:
    switches = [Switch(), Switch()]
    for switch in switches:
        switch.status = 500  # the model's verdict on the input: the same on every replica
    fakes = [await fake_v2(s) for s in switches]
    backend = await balanced([f.url for f in fakes], eject_after=1)
    for _ in range(10):
        with pytest.raises(BackendError) as info:
            await backend.run([ITEM], None)
        assert info.value.kind == "HTTP500"
    stats = backend.server_stats()
    assert sum(s.errors for s in stats) == 10 and sum(s.batches for s in stats) == 10
    assert not any(s.ejected or s.retried for s in stats)


async def test_with_every_server_ejected_batches_still_go_out(fake_v2, balanced) -> None:
    fakes = [await fake_v2(), await fake_v2()]
    backend = await balanced([f.url for f in fakes])
    for fake in fakes:
        fake.ready = 503
    await backend.check_health()
    assert all(s.ejected for s in backend.server_stats())
    assert np.array_equal((await backend.run([ITEM], None))[0], ITEM)


async def test_a_server_down_at_start_is_admitted_once_it_is_ready(fake_v2, balanced, closed_port, tmp_path) -> None:
    from clawlet_tui.models import MLPModel

    live = await fake_v2()
    port = closed_port()
    backend = await balanced([live.url, f"http://127.0.0.1:{port}"])
    assert [s.ejected for s in backend.server_stats()] == [False, True]
    assert (await backend.run([ITEM], None))[0].shape == (8,)
    await backend.check_health()  # still nothing there
    assert backend.server_stats()[1].ejected

    config = OptimizationConfig(l2_cache_dir=str(tmp_path / "l2"), enable_l2=False)
    async with running_server(MLPModel(layers=(8, 16, 8)), port=port, model_name=MODEL, engine_config=config):
        await backend.check_health()
        assert not backend.server_stats()[1].ejected
        for _ in range(30):
            await backend.run([ITEM], None)
        assert backend.server_stats()[1].batches > 0


async def test_start_fails_only_when_no_server_is_ready(closed_port) -> None:
    urls = [f"http://127.0.0.1:{closed_port()}", f"http://127.0.0.1:{closed_port()}"]
    backend = BalancedBackend(urls, MODEL, retries=0, health_interval_s=None)
    with pytest.raises(BackendError) as info:
        await backend.start()
    assert info.value.kind == "ConnectionError"
    assert str(info.value).startswith("none of the 2 backends is ready: cannot reach")


async def test_servers_of_different_models_are_refused(fake_v2) -> None:
    other = {**METADATA, "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}]}
    fakes = [await fake_v2(), await fake_v2(metadata=other)]
    backend = BalancedBackend([f.url for f in fakes], MODEL, health_interval_s=None)
    with pytest.raises(BackendError) as info:
        await backend.start()
    assert info.value.kind == "Mismatch"
    assert "[-1, 8]" in str(info.value) and "[-1, 4]" in str(info.value)


@pytest.mark.parametrize(
    ("urls", "options", "message"),
    [
        (["http://a:1"], {}, "at least 2 URLs"),
        (["http://a:1", "http://a:1"], {}, "'http://a:1' is given twice"),
        (["http://a:1", "ftp://b:1"], {}, "must start with http:// or https://"),
        (["http://a:1", "http://b:1"], {"eject_after": 0}, "eject_after must be an integer >= 1"),
        (["http://a:1", "http://b:1"], {"health_interval_s": 0}, "health_interval_s must be > 0"),
    ],
)
def test_bad_arguments_are_config_errors(urls, options, message) -> None:
    with pytest.raises(ConfigError, match=message):
        BalancedBackend(urls, **options)


async def test_every_request_and_batch_is_accounted_for(fake_v2, tmp_path, accounted) -> None:
    """Through the engine: sum(batches) == engine batches + sum(retried), nothing lost, rows in the snapshot."""
    flaky, steady = Switch(), Switch()
    fakes = [await fake_v2(flaky), await fake_v2(steady)]
    backend = BalancedBackend([f.url for f in fakes], MODEL, health_interval_s=None, seed=3, eject_after=1000)
    config = OptimizationConfig(l2_cache_dir=str(tmp_path / "l2"), enable_cache=False, batch_size=4)
    engine = ClawletEngine(config, model=backend.model_info, backend=backend)
    await engine.start()
    try:
        flaky.status = 503
        results = await asyncio.gather(*(engine.submit(np.full(8, k, np.float32)) for k in range(200)))
        assert [r[0] for r in results] == list(range(200))
        snap = engine.snapshot()
    finally:
        await engine.stop()
    accounted(engine)
    assert snap.outcomes.failed == 0
    first, second = snap.backends
    assert first.errors == first.retried == first.batches > 0, "every batch on the failing server moved"
    assert first.batches + second.batches == snap.batches.count + first.retried + second.retried
    assert second.errors == 0 and not first.ejected
    assert [b.url for b in snap.backends] == [f.url for f in fakes]
    # the rows are recorded and replayed with the rest of the snapshot
    assert snapshot_from_dict(snapshot_to_dict(snap)).backends == snap.backends
    # a new engine on the same backend (the dashboard's preset switch) starts from zero
    again = ClawletEngine(config, model=backend.model_info, backend=backend)
    await again.start()
    try:
        assert [(b.batches, b.errors, b.retried) for b in again.snapshot().backends] == [(0, 0, 0), (0, 0, 0)]
        await again.submit(ITEM)
        again.reset_metrics()
        assert sum(b.batches for b in again.snapshot().backends) == 0
    finally:
        await again.stop()


SERVED_PRESET = """\
name = "served"
description = "test preset: the model the replicas serve"
[engine]
enable_cache = false
[load]
rate_rps = 10
duration_s = 1
[model]
kind = "mlp"
layers = [8, 16, 8]
"""


async def _serve(preset: Path, tmp_path: Path) -> tuple[asyncio.subprocess.Process, str]:
    """A ``clawlet-tui serve`` child on a free port; its URL from the banner it prints once listening."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TMPDIR": str(tmp_path)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "clawlet_tui.cli", "serve", "--preset", str(preset), "--port", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env=env,
    )
    assert proc.stdout is not None
    banner = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
    assert banner.startswith("clawlet-tui serve: mlp at http://127.0.0.1:"), banner
    return proc, banner.split(" at ")[1].split("/v2/")[0]


async def test_killing_one_of_three_serve_processes_loses_no_request(tmp_path, wait_until, accounted) -> None:
    preset = tmp_path / "served.toml"
    preset.write_text(SERVED_PRESET, encoding="utf-8")
    servers = await asyncio.gather(*(_serve(preset, tmp_path) for _ in range(3)))
    try:
        backend = BalancedBackend([url for _, url in servers], health_interval_s=0.2, max_connections=2, seed=1)
        config = OptimizationConfig(
            l2_cache_dir=str(tmp_path / "l2"), enable_cache=False, batch_size=4, batch_timeout_s=0.001, max_concurrent=6
        )
        engine = ClawletEngine(config, model=backend.model_info, backend=backend)
        await engine.start()
        stop = asyncio.Event()
        succeeded: list[int] = []
        failed: list[BaseException] = []

        async def client(i: int) -> None:
            k = i
            while not stop.is_set():
                try:
                    out = await engine.submit(np.full(8, k, np.float32))
                    succeeded.append(k)
                    assert out.shape == (8,)
                except BackendError as exc:
                    failed.append(exc)
                k += 12

        def batches() -> list[int]:
            return [row.batches for row in backend.server_stats()]

        clients = [asyncio.create_task(client(i)) for i in range(12)]
        try:
            await wait_until(lambda: min(batches()) >= 5, timeout=60)
            servers[0][0].kill()  # dies mid-run, batches in flight on it or not
            await wait_until(lambda: backend.server_stats()[0].ejected, timeout=60)
            at_ejection = batches()
            await wait_until(lambda: all(b >= a + 20 for b, a in zip(batches()[1:], at_ejection[1:])), timeout=60)
            assert batches()[0] == at_ejection[0], "the dead server gets no batch once out of the rotation"
        finally:
            stop.set()
            await asyncio.gather(*clients)
            await engine.stop()
        snap = engine.snapshot()
    finally:
        for proc, _ in servers:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()

    accounted(engine)
    dead, *survivors = snap.backends
    # nothing lost: every failed batch on the dead server went once more, to a survivor
    assert failed == [] and snap.outcomes.failed == 0
    assert snap.outcomes.succeeded == len(succeeded) == snap.outcomes.submitted
    assert dead.ejected and dead.errors == dead.retried
    assert [(s.errors, s.ejected) for s in survivors] == [(0, False), (0, False)]
    assert sum(b.batches for b in snap.backends) == snap.batches.count + dead.retried
