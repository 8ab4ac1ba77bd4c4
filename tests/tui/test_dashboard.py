"""The dashboard fed from a recorded stream: panels show what the snapshots say, the layout
never overlaps, and the event log writes each event exactly once."""

from __future__ import annotations

import re

import pytest

from clawlet_tui.tui.app import ClawletApp
from clawlet_tui.tui.replay import RecordedStream
from clawlet_tui.tui.screens import DashboardScreen
from clawlet_tui.tui.widgets import ConfigPanel, EventLogPanel, LatencyPanel, MetricPanel

from .conftest import feed_stream, make_replay_app, notified
from .fakes import STREAM, recorded_snapshots


def test_recorded_stream_replays_in_order_then_holds_the_last() -> None:
    stream = RecordedStream.from_jsonl(STREAM)
    snaps = [stream() for _ in range(len(stream))]
    assert [s.time_s for s in snaps] == sorted(s.time_s for s in snaps)
    assert stream.exhausted
    assert stream() is snaps[-1]


@pytest.mark.parametrize("size", [(100, 30), (160, 48), (220, 60)])
async def test_panels_fill_the_screen_without_overlapping(size: tuple[int, int]) -> None:
    app = make_replay_app()
    async with app.run_test(size=size) as pilot:
        await feed_stream(pilot)
        panels = list(app.screen.query(MetricPanel))
        assert len(panels) == 9
        width, height = size
        for panel in panels:
            r = panel.region
            assert r.x >= 0 and r.y >= 1 and r.right <= width and r.bottom <= height - 1, (panel.id, r)
            assert r.height >= 6 and r.width >= 30, (panel.id, r)
        for i, a in enumerate(panels):
            for b in panels[i + 1 :]:
                assert not a.region.overlaps(b.region), (a.id, b.id)


async def test_event_log_writes_each_event_once_with_wall_clock_times() -> None:
    app = make_replay_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await feed_stream(pilot)
        for _ in range(3):
            app.refresh_metrics()  # the last snapshot again: nothing new to write
        log = app.screen.query_one(EventLogPanel)
        events = app.last_snapshot.events
        assert log.lines_written == len(events)
        assert log.last_seq == events[-1].seq
        # every line is stamped with a wall-clock time; the recording's batch-size change and
        # manual GC appear once each, in the order they happened
        texts = [line.plain for line in log.lines]
        assert all(re.match(r"\d\d:\d\d:\d\d \w", t) for t in texts), texts
        config = [i for i, t in enumerate(texts) if "config  batch_size 4 -> 8" in t]
        gc = [i for i, t in enumerate(texts) if " gc " in t and "manual" in t]
        assert len(config) == 1 and len(gc) == 1 and config[0] < gc[0], texts


async def test_config_panel_highlights_the_last_change_and_latency_shows_slo() -> None:
    app = make_replay_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await feed_stream(pilot)
        assert app.screen.query_one(ConfigPanel).changed_fields == ("batch_size",)
        latency = app.screen.query_one(LatencyPanel)
        assert latency.slo_p99_ms == 25.0
        assert "SLO" in str(latency.query_one("#latency-now").render())


async def test_controls_without_engine_warn_instead_of_crashing() -> None:
    app = make_replay_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("b", "p", "e", "s", "g")
        assert isinstance(app.screen, DashboardScreen)
        assert any("no live engine" in m for m in notified(app))


async def test_failing_snapshot_source_is_reported_not_fatal() -> None:
    calls = 0

    def broken():
        nonlocal calls
        calls += 1
        raise RuntimeError("monitor exploded")

    app = ClawletApp(snapshot_source=broken)
    async with app.run_test(size=(100, 30)) as pilot:
        app.refresh_metrics()
        await pilot.pause()
        errors = notified(app, "error")
        assert len(errors) == 1 and "monitor exploded" in errors[0]
        assert app.is_running


async def test_every_snapshot_shown_is_handed_to_on_snapshot() -> None:
    """What --metrics-port publishes is exactly what the dashboard shows."""
    from clawlet_tui.tui.app import ClawletApp
    from clawlet_tui.tui.replay import RecordedStream

    from .conftest import recorded_snapshots

    published: list = []
    app = ClawletApp(snapshot_source=RecordedStream(recorded_snapshots()), on_snapshot=published.append)
    async with app.run_test(size=(100, 30)) as pilot:
        app.refresh_metrics()
        app.refresh_metrics()
        await pilot.pause()
        assert published and published[-1] is app.last_snapshot
        assert len(published) == app.refresh_count


def test_the_cost_line_says_why_there_is_no_fit_yet() -> None:
    from clawlet_tui.engine.snapshot import BatchStats
    from clawlet_tui.tui.widgets.batches import cost_text

    assert "fitting… (1 batches)" in cost_text(BatchStats(cost_samples=1))
    # 64 batches measured, all of one size: a line through one point does not exist
    assert "needs 2 sizes (64 alike)" in cost_text(BatchStats(cost_samples=64))
    assert "one size" in cost_text(BatchStats(cost_samples=64), short=True)
    assert "0.50 + 0.100·n" in cost_text(BatchStats(cost_samples=64, cost_a_ms=0.5, cost_b_ms=0.1))


async def test_the_concurrency_panel_has_a_line_per_model_server() -> None:
    """A snapshot with backend rows (a balanced remote backend) shows one line per server."""
    import dataclasses

    from clawlet_tui.engine.snapshot import BackendServerStats
    from clawlet_tui.tui.widgets import ConcurrencyPanel

    rows = (
        BackendServerStats(url="http://10.0.0.1:8000", in_flight=2, limit=8, batches=340, errors=0),
        BackendServerStats(url="http://10.0.0.2:8000", in_flight=0, limit=8, batches=12, errors=5, retried=5,
                           ejected=True, ejections=1),
    )
    app = ClawletApp(snapshot_source=RecordedStream([dataclasses.replace(s, backends=rows) for s in recorded_snapshots()]))
    async with app.run_test(size=(160, 48)) as pilot:
        await feed_stream(pilot)
        text = str(app.screen.query_one(ConcurrencyPanel).query_one("#concurrency-text").render())
    assert "10.0.0.1:8000 in 2/8 sent 340 err 0\n" in text, text
    assert re.search(r"10\.0\.0\.2:8000 in 0/8 sent 12 err 5\s+ejected", text), text
    assert "http://" not in text
