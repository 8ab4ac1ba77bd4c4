"""The engine process behind ``clawlet-tui``: a real spawned child serving a tiny preset.

Each test waits on conditions with a deadline (the child's pushed state, its exit), never
on a fixed sleep, and asserts on outcomes, not on timings.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from clawlet_tui.engine.errors import ConfigError
from clawlet_tui.load import Preset
from clawlet_tui.models import build_model
from clawlet_tui.tui.app import ClawletApp
from clawlet_tui.tui.controls import EngineControls, EngineExited, EngineNotResponding
from clawlet_tui.tui.engine_process import EngineProcess
from clawlet_tui.tui.live import LiveRun

from .conftest import REPO_THEMES, fixed_clock, make_preset


async def until(predicate: Callable[[], Any], timeout_s: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def tiny(tmp_path: Path, **model: Any) -> Preset:
    """The tests' tiny open-loop preset, its L2 left to the session (a temporary directory)."""
    preset = make_preset("tiny-steady", tmp_path)
    config = preset.config.replace(l2_cache_dir=None)
    spec = model or preset.model_spec
    return dataclasses.replace(preset, config=config, model_spec=spec)


def launch(preset: Preset, **options: Any) -> EngineProcess:
    return EngineProcess.launch(preset.name, preset_object=preset, push_interval_s=0.05, **options)


async def test_both_implementations_satisfy_engine_controls(tmp_path: Path) -> None:
    live = LiveRun.from_preset("tiny-steady", preset_loader=lambda _: tiny(tmp_path),
                               model_builder=lambda spec, source: build_model(spec, source=source))
    engine = launch(tiny(tmp_path))
    try:
        assert isinstance(live, EngineControls) and isinstance(engine, EngineControls)
    finally:
        await engine.stop()
        await live.stop()


async def test_controls_cross_the_pipe_and_stop_drains_every_request(tmp_path: Path) -> None:
    engine = launch(tiny(tmp_path))
    l2_dir = engine.state.l2_dir
    assert l2_dir is not None and Path(l2_dir).is_dir()
    try:
        await engine.start()
        await until(lambda: engine.snapshot().outcomes.succeeded > 0)
        assert engine.problem is None and engine.view().preset == "tiny-steady"
        # a change applies in the child and shows in the state that comes back with the reply
        assert engine.update(batch_size=8).batch_size == 8
        assert engine.config.batch_size == 8 and engine.snapshot().config.batch_size == 8
        # a refused value raises the engine's own error, message intact
        with pytest.raises(ConfigError, match="batch_size must be >= 1, got 0"):
            engine.update(batch_size=0)
        sent = engine.view().sent
        assert await engine.burst(20) == 20
        await until(lambda: engine.view().sent >= sent + 20)
        assert await engine.toggle_pause() is True and engine.paused
        engine.trigger_gc()
        await until(lambda: engine.snapshot().memory.manual_gc == 1)
        # a warm-up starts in the child and says so when it ends (the load is paused here)
        await until(lambda: engine.snapshot().outcomes.in_flight == 0)
        assert await engine.warm_up() == 64
        await until(lambda: any(e.message.startswith("warmed 64 keys") for e in engine.snapshot().events))
        assert engine.snapshot().outcomes.submitted == 0
    finally:
        await engine.stop()
    outcomes = engine.snapshot().outcomes
    assert outcomes.in_flight == 0
    assert outcomes.submitted == (
        outcomes.succeeded + outcomes.failed + outcomes.rejected + outcomes.timed_out + outcomes.cancelled
    )
    assert engine._process.exitcode == 0
    assert not Path(l2_dir).exists()
    assert engine.problem is None
    await engine.stop()  # idempotent


async def test_a_killed_child_is_reported_and_stop_still_returns(tmp_path: Path) -> None:
    engine = launch(tiny(tmp_path))
    l2_dir = engine.state.l2_dir
    await engine.start()
    assert engine.pid is not None
    os.kill(engine.pid, signal.SIGKILL)
    await until(lambda: engine.problem is not None)
    assert engine.problem == "engine exited: killed by SIGKILL"
    with pytest.raises(EngineExited, match="killed by SIGKILL"):
        engine.update(batch_size=8)
    await engine.stop()
    assert l2_dir is not None and not Path(l2_dir).exists(), "the parent removes the L2 a dead child left"


async def test_a_child_that_stops_answering_is_reported_and_ended(tmp_path: Path) -> None:
    engine = launch(tiny(tmp_path), stale_after_s=0.3)
    await engine.start()
    assert engine.pid is not None
    os.kill(engine.pid, signal.SIGSTOP)
    try:
        await until(lambda: engine.problem is not None)
        assert engine.problem == "engine not responding"
        with pytest.raises(EngineNotResponding):  # at once, not after a timeout
            engine.update(batch_size=8)
        await engine.stop()
    finally:
        if engine._process.is_alive():
            os.kill(engine.pid, signal.SIGKILL)
    assert not engine._process.is_alive()


def test_a_start_up_error_crosses_as_the_same_one_line_error(tmp_path: Path) -> None:
    bad = tiny(tmp_path, kind="no-such-model")
    with pytest.raises(ConfigError) as in_process:
        LiveRun.from_preset("tiny-steady", preset_loader=lambda _: bad)
    with pytest.raises(ConfigError) as in_child:
        launch(bad)
    assert type(in_child.value) is type(in_process.value)
    assert str(in_child.value) == str(in_process.value) and "\n" not in str(in_child.value)


async def test_the_dashboard_drives_the_engine_process(tmp_path: Path) -> None:
    engine = launch(tiny(tmp_path))
    app = ClawletApp(engine, clock=fixed_clock, refresh_interval_s=0.1, theme_dirs_=[REPO_THEMES], report_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: app.last_snapshot is not None and app.last_snapshot.outcomes.succeeded > 0)
        await pilot.press("b")
        assert engine.config.batch_size == 8
        await pilot.press("q")
    assert engine.stopped and engine._process.exitcode == 0
    assert app.exit_summary is not None and "in flight at quit" in app.exit_summary
