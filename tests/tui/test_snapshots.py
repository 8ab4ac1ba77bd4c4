"""Screenshots of the dashboard fed a recorded metric stream and a fixed clock.

Regenerate after an intended visual change with ``pytest tests/tui --snapshot-update`` and
look at the SVGs in ``__snapshots__/`` before committing them.
"""

from __future__ import annotations

import pytest

from .conftest import OPEN_LOAD, feed_stream, make_replay_app


def test_dashboard_160x48(snap_compare) -> None:
    assert snap_compare(make_replay_app(), terminal_size=(160, 48), run_before=feed_stream)


def test_dashboard_100x30(snap_compare) -> None:
    assert snap_compare(make_replay_app(), terminal_size=(100, 30), run_before=feed_stream)


def test_dashboard_80x24(snap_compare) -> None:
    """The default terminal size; the load line of a live open-loop run (``sent``)."""
    assert snap_compare(make_replay_app(load=OPEN_LOAD), terminal_size=(80, 24), run_before=feed_stream)


@pytest.mark.parametrize("size", [(160, 48), (80, 24)], ids=["160x48", "80x24"])
def test_latency_histogram(snap_compare, size: tuple[int, int]) -> None:
    """``h``: the window's bimodal latency (cache hits ~0.05 ms, computed 2-10 ms), P50/P99 marked."""
    assert snap_compare(make_replay_app(load=OPEN_LOAD), terminal_size=size, run_before=feed_stream, press=["h"])


def test_help_screen_80x24(snap_compare) -> None:
    assert snap_compare(make_replay_app(), terminal_size=(80, 24), run_before=feed_stream, press=["question_mark"])


def test_help_screen(snap_compare) -> None:
    assert snap_compare(make_replay_app(), terminal_size=(120, 40), run_before=feed_stream, press=["question_mark"])


def test_config_editor(snap_compare) -> None:
    async def open_editor(pilot) -> None:
        from clawlet_tui.engine.config import OptimizationConfig
        from clawlet_tui.tui.screens import ConfigEditorScreen

        await feed_stream(pilot)
        editor = ConfigEditorScreen(pilot.app.last_snapshot.config.replace(max_concurrent=4))
        await pilot.app.push_screen(editor)
        editor.query_one("#field-batch_size").value = "abc"
        editor.action_submit()
        await pilot.pause()
        assert isinstance(editor.config, OptimizationConfig)

    assert snap_compare(make_replay_app(), terminal_size=(120, 40), run_before=open_editor)


@pytest.mark.parametrize("theme", ["dark", "light", "high-contrast"])
def test_theme(snap_compare, theme: str) -> None:
    assert snap_compare(make_replay_app(theme=theme), terminal_size=(120, 36), run_before=feed_stream)


def test_tuning_view_160x48(snap_compare) -> None:
    """Key ``a``'s view mid-run: a search on the synthetic surface (``fakes.synthetic_measurement``,
    SLO 20 ms), the incumbent highlighted, batch 16 beyond the SLO line, 42 s of 120 s spent."""

    async def open_view(pilot) -> None:
        import dataclasses

        from clawlet_tui.engine.config import OptimizationConfig
        from clawlet_tui.tui.live_tuning import RUNNING, LiveTuning
        from clawlet_tui.tui.screens import TuningScreen
        from clawlet_tui.tune.objective import Objective

        from .fakes import synthetic_measurement
        from .test_live_tuning import Engine

        engine = Engine(OptimizationConfig(batch_size=4, max_concurrent=2, l1_cache_size=64))

        async def measure_trial(config):
            return synthetic_measurement(config)

        tuning = LiveTuning(engine, Objective(20.0), params=("batch_size", "max_concurrent", "batch_policy"),
                            clock=lambda: 0.0, measure_trial=measure_trial)
        await tuning.start()
        assert tuning._task is not None
        await tuning._task
        view = dataclasses.replace(tuning.view(), state=RUNNING, elapsed_s=42.0, message="")
        await feed_stream(pilot)
        await pilot.app.push_screen(TuningScreen(view, "tiny-closed"))
        await pilot.pause()

    assert snap_compare(make_replay_app(), terminal_size=(160, 48), run_before=open_view)
