"""LiveRun: how the dashboard gets its engine and load generator from a preset."""

from __future__ import annotations

from pathlib import Path

import pytest

from clawlet_tui.engine import ClawletEngine, ConfigError, PresetError
from clawlet_tui.load import LoadGenerator
from clawlet_tui.tui.live import LiveRun


def test_from_preset_builds_real_engine_and_generator_with_overrides(tmp_path: Path) -> None:
    live = LiveRun.from_preset("steady", {"batch_size": 16, "l2_cache_dir": str(tmp_path)})
    assert isinstance(live.engine.target, ClawletEngine) and isinstance(live.generator.target, LoadGenerator)
    assert live.engine.config.batch_size == 16
    assert live.preset_name == "steady" and live.open_loop and live.target_rps == 400.0
    assert live.view().slo_p99_ms == live.preset.slo_p99_ms


def test_bad_preset_or_override_fails_before_anything_starts() -> None:
    with pytest.raises(PresetError):
        LiveRun.from_preset("no-such-preset")
    with pytest.raises(ConfigError, match="batch_size must be >= 1"):
        LiveRun.from_preset("steady", {"batch_size": 0})


async def test_stop_is_idempotent(live_run: LiveRun) -> None:
    await live_run.start()
    await live_run.stop()
    await live_run.stop()
    assert not live_run.engine.running


async def test_engine_runs_on_its_own_loop_thread(live_run: LiveRun) -> None:
    """The dashboard's loop renders; the engine's loop serves: a slow frame cannot stall it."""
    import asyncio
    import threading

    await live_run.start()
    try:
        assert live_run.host.running
        engine_loop = live_run.host.call(asyncio.get_running_loop)
        assert engine_loop is not asyncio.get_running_loop()
        assert live_run.host.call(threading.current_thread).name == "clawlet-engine-loop"
        # calls through the stand-in run there and hand back results and errors
        assert live_run.engine.update(batch_size=3).batch_size == 3
        with pytest.raises(ConfigError):
            live_run.engine.update(batch_size=0)
    finally:
        await live_run.stop()
    assert not live_run.host.running
