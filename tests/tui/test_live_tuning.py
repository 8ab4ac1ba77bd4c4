"""LiveTuning: the search on a running engine; apply only what met the SLO; stop restores.

The unit tests drive it with a synthetic measurement (``fakes.synthetic_measurement``, a
known surface) on a stand-in engine; the last test runs it for real, in the engine process
behind the dashboard, and presses Esc.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from clawlet_tui.engine.config import OptimizationConfig
from clawlet_tui.engine.errors import ClawletError, ConfigError
from clawlet_tui.tui.app import ClawletApp
from clawlet_tui.tui.engine_process import EngineProcess
from clawlet_tui.tui.live_tuning import APPLIED, DONE, RUNNING, STOPPED, LiveTuning
from clawlet_tui.tui.screens import DashboardScreen, TuningScreen
from clawlet_tui.tune.measure import Measurement, MeasureSettings
from clawlet_tui.tune.objective import Objective

from .conftest import REPO_THEMES, fixed_clock, make_preset
from .fakes import synthetic_measurement
from .test_engine_process import until

START = OptimizationConfig(batch_size=4, max_concurrent=2, l1_cache_size=64)


class Engine:
    """What LiveTuning uses of an engine: its config, reconfigure, the event log."""

    def __init__(self, config: OptimizationConfig) -> None:
        self.config = config
        self.events: list[str] = []

    def reconfigure(self, config: OptimizationConfig) -> None:
        self.config = config

    def log_event(self, kind: str, message: str) -> None:
        self.events.append(f"{kind}: {message}")


def tuning(engine: Engine, slo_ms: float = 20.0, gate: asyncio.Queue[None] | None = None, **options) -> LiveTuning:
    async def measure_trial(config: OptimizationConfig) -> Measurement:
        engine.config = config
        if gate is not None:
            await gate.get()  # the test lets each trial finish
        return synthetic_measurement(config)

    options.setdefault("params", ("batch_size", "max_concurrent"))
    return LiveTuning(engine, Objective(slo_ms), clock=lambda: 0.0, measure_trial=measure_trial, **options)


async def run_to_end(t: LiveTuning) -> None:
    await t.start()
    assert t._task is not None
    await t._task


async def test_the_search_finds_the_best_within_the_slo_and_apply_applies_it() -> None:
    engine = Engine(START)
    t = tuning(engine)
    await run_to_end(t)
    view = t.view()
    assert view.state == DONE and engine.config == START, "ended on its own: the start config is back on"
    assert dict(view.incumbent or ()) == {"batch_size": 8, "max_concurrent": 2} and view.incumbent_feasible
    assert any(dict(r.point)["batch_size"] == 16 and not r.meets_slo for r in view.trials), "faster, broke the SLO"
    applied = await t.apply()
    assert (applied.batch_size, applied.max_concurrent) == (8, 2) and engine.config == applied
    assert t.state == APPLIED
    assert sum(e.startswith("tune: trial ") for e in engine.events) == len(view.trials)


async def test_nothing_within_the_slo_means_nothing_is_applied() -> None:
    engine = Engine(START)
    t = tuning(engine, slo_ms=1.0)
    await run_to_end(t)
    with pytest.raises(ClawletError, match="no config has met the SLO.*lowest P99 so far 6.00 ms"):
        await t.apply()
    assert engine.config == START and t.state == DONE


async def test_stop_mid_trial_restores_the_start_config() -> None:
    engine = Engine(START)
    gate: asyncio.Queue[None] = asyncio.Queue()
    t = tuning(engine, gate=gate)
    await t.start()
    for _ in range(3):
        gate.put_nowait(None)
    while len(t.view().trials) < 3:
        await asyncio.sleep(0)
    assert engine.config != START or t.view().running  # a trial's config is on
    restored = await t.stop()
    assert restored == START == engine.config and t.state == STOPPED
    assert await t.stop() == START, "a second stop changes nothing"
    with pytest.raises(ClawletError):
        await t.apply()


async def test_apply_mid_search_takes_the_incumbent_so_far_only_if_it_met_the_slo() -> None:
    engine = Engine(START)
    gate: asyncio.Queue[None] = asyncio.Queue()
    t = tuning(engine, gate=gate)
    await t.start()
    gate.put_nowait(None)  # the start config: 800 req/s, P99 12 ms, within 20 ms
    while not t.view().trials:
        await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert t.view().running
    applied = await t.apply()
    assert applied == START.replace(batch_size=4, max_concurrent=2) and engine.config == applied


def test_a_budget_too_short_for_two_trials_is_refused() -> None:
    with pytest.raises(ConfigError, match="--budget must be at least"):
        tuning(Engine(START), budget_s=1.0, settings=MeasureSettings())


# -- for real: the engine process behind the dashboard -------------------------------------


@pytest.mark.live_engine
async def test_esc_in_the_engine_process_restores_the_start_config_and_every_request_ends_once(tmp_path: Path) -> None:
    preset = make_preset("tiny-steady", tmp_path, rate_rps=50.0)
    preset = dataclasses.replace(preset, config=preset.config.replace(l2_cache_dir=None))
    engine = EngineProcess.launch(preset.name, preset_object=preset, push_interval_s=0.05)
    app = ClawletApp(engine, clock=fixed_clock, refresh_interval_s=0.1, theme_dirs_=[REPO_THEMES], report_dir=tmp_path)
    app.tuning.budget_s = 30.0
    app.tuning.settings = MeasureSettings(warmup_s=0.2, window_s=0.2, max_windows=4)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(lambda: app.last_snapshot is not None and app.last_snapshot.outcomes.succeeded > 0)
        start = engine.config
        await pilot.press("a")
        assert isinstance(app.screen, TuningScreen)
        # two trials measured in the child: the second runs another config than the start
        await until(lambda: engine.tuning is not None and len(engine.tuning.trials) >= 2)
        view = engine.tuning
        assert view is not None and view.state == RUNNING and view.slo_p99_ms == 20.0
        assert all(t.throughput_rps > 0 for t in view.trials), "measured on the engine's own load"
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)
        assert engine.config == start, "Esc put the start config back"
        assert engine.tuning is not None and engine.tuning.state == STOPPED
        trial_lines = [e.message for e in engine.snapshot().events if e.kind == "tune" and e.message.startswith("trial ")]
        assert len(trial_lines) >= len(view.trials)
        await pilot.press("q")
    # the drain's state, sent with the stop's reply: every request the load sent has its outcome
    load, outcomes = engine.view(), engine.snapshot().outcomes
    assert load.sent > 0 and load.outstanding == 0 and load.sent == load.completed
    assert outcomes.in_flight == 0
    assert outcomes.submitted == outcomes.succeeded + outcomes.failed + outcomes.rejected + outcomes.timed_out + outcomes.cancelled
    assert app.exit_summary is not None and "unaccounted" not in app.exit_summary


@pytest.mark.live_engine
async def test_quitting_mid_tuning_puts_the_start_config_back_before_the_drain(live_run) -> None:
    """LiveRun.stop (what quit calls) with a tuning on: the start config is back, every request ended."""
    await live_run.start()
    start = live_run.config
    try:
        await live_run.start_tuning(20.0, 30.0, settings=MeasureSettings(warmup_s=0.1, window_s=0.1, max_windows=3))
        await until(lambda: live_run.tuning is not None and len(live_run.tuning.trials) >= 2)
    finally:
        await live_run.stop()
    assert live_run.config == start and live_run.tuning is not None and live_run.tuning.state == STOPPED
    stats = live_run.stats()
    assert stats.sent > 0 and stats.sent == stats.completed + stats.failed_total and stats.outstanding == 0
