"""Key ``a``, the tuning view, Enter and Esc, on :class:`FakeControls` (a real LiveTuning
over a synthetic surface: see ``fakes.synthetic_measurement``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input

from clawlet_tui.load import Preset
from clawlet_tui.tui.app import ClawletApp
from clawlet_tui.tui.live_tuning import DONE
from clawlet_tui.tui.screens import DashboardScreen, SloPromptScreen, TuningScreen
from clawlet_tui.tui.tuning_flow import propose_slo
from clawlet_tui.tui.widgets import EventLogPanel

from .conftest import REPO_THEMES, fixed_clock
from .fakes import FakeControls

SIZE = (160, 48)


def closed_fake(presets: dict[str, Preset]) -> FakeControls:
    return FakeControls(presets["tiny-closed"], presets)


def app_on(fake: FakeControls, tmp_path: Path) -> ClawletApp:
    return ClawletApp(fake, clock=fixed_clock, refresh_interval_s=3600.0, theme_dirs_=[REPO_THEMES], report_dir=tmp_path)


async def settle(pilot, app: ClawletApp, fake: FakeControls) -> None:
    """Let the synthetic search run to its end (each trial is one turn of the loop)."""
    for _ in range(200):
        view = fake.tuning
        if view is not None and view.state == DONE:
            break
        await pilot.pause()
    app.refresh_metrics()
    await pilot.pause()


async def test_a_shows_the_trials_and_enter_applies_the_best_that_met_the_slo(presets, tmp_path) -> None:
    fake = closed_fake(presets)
    app = app_on(fake, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a")
        assert isinstance(app.screen, TuningScreen)
        assert fake.calls[-1].name == "start_tuning" and fake.calls[-1].args[0] == 20.0  # the preset's SLO
        await settle(pilot, app, fake)
        view = fake.tuning
        assert view is not None and view.state == DONE
        table = app.screen.query_one("#tune-trials")
        assert table.row_count == len(view.trials) >= 5
        # batch 16 was measured, is twice as fast, and broke the SLO: it is not the incumbent
        fast = [t for t in view.trials if dict(t.point)["batch_size"] == 16]
        assert fast and not any(t.meets_slo for t in fast)
        assert dict(view.incumbent or ())["batch_size"] == 8 and view.incumbent_feasible
        assert fake.config.batch_size == 4, "a finished tuning leaves the start config on until Enter"
        await pilot.press("enter")
        assert isinstance(app.screen, DashboardScreen)
        assert (fake.config.batch_size, fake.config.max_concurrent) == (8, 2)
        events = [e.message for e in fake.snapshot().events if e.kind == "tune"]
        trial_lines = [m for m in events if m.startswith("trial ")]
        assert len(trial_lines) == len(view.trials), "each trial is a line in the event log"
        assert any(m.startswith("applied the best: bs=8") for m in events)
        log = app.dashboard.query_one("#events", EventLogPanel)
        assert log is not None


async def test_esc_stops_and_restores_the_start_config(presets, tmp_path) -> None:
    fake = closed_fake(presets)
    start = fake.config
    app = app_on(fake, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a")
        await pilot.pause()
        assert fake.tuning is not None and fake.tuning.trials, "trials ran"
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)
        assert fake.config == start
        assert fake.tuning.state == "stopped"
        # nothing of the stopped tuning can be applied afterwards
        await pilot.press("a")
        assert isinstance(app.screen, TuningScreen)
        await pilot.press("escape")
        assert fake.config == start


async def test_enter_with_nothing_within_the_slo_applies_nothing(presets, tmp_path) -> None:
    import dataclasses

    strict = dataclasses.replace(presets["tiny-closed"], slo_p99_ms=1.0)  # P99 is >= 6 ms everywhere
    fake = FakeControls(strict, {strict.name: strict})
    start = fake.config
    app = app_on(fake, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a")
        await settle(pilot, app, fake)
        assert fake.tuning is not None and not fake.tuning.incumbent_feasible
        await pilot.press("enter")
        assert isinstance(app.screen, TuningScreen), "the view stays: there is nothing to apply"
        assert fake.config == start
        assert any("no config has met the SLO" in str(n.message) for n in app._notifications)


async def test_a_without_a_preset_slo_asks_with_a_proposal(presets, tmp_path) -> None:
    import dataclasses

    bare = dataclasses.replace(presets["tiny-closed"], slo_p99_ms=None)
    fake = FakeControls(bare, {bare.name: bare})
    app = app_on(fake, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a")
        prompt = app.screen
        assert isinstance(prompt, SloPromptScreen)
        field = prompt.query_one(Input)
        p99_now = fake.snapshot().window_latency.p99_ms
        assert float(field.value) == propose_slo(p99_now)[0] > 2 * p99_now - 1e-9, "the proposal is shown"
        field.value = "abc"
        await pilot.press("enter")
        assert app.screen is prompt
        assert "got 'abc'" in str(prompt.query_one("#slo-error").render())
        field.value = "25"
        await pilot.press("enter")
        assert isinstance(app.screen, TuningScreen)
        assert fake.calls[-1].name == "start_tuning" and fake.calls[-1].args[0] == 25.0


@pytest.mark.parametrize(("p99", "expected"), [(0.0, 100.0), (3.14, 6.3), (12.0, 24.0), (149.0, 300.0)])
def test_proposed_slo_is_twice_the_p99_now_rounded_up(p99: float, expected: float) -> None:
    assert propose_slo(p99)[0] == pytest.approx(expected)


async def test_a_on_a_paused_load_says_why_and_opens_nothing(live_app: ClawletApp) -> None:
    async with live_app.run_test(size=SIZE) as pilot:
        await pilot.press("p")
        await pilot.press("a")
        assert isinstance(live_app.screen, DashboardScreen)
        assert any("paused" in str(n.message) for n in live_app._notifications)
