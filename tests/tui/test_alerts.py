"""Alerts on the dashboard, fed a recorded stream: the header and the concerned panel's
border show a firing alert, the event log gets each fire and resolve, exports list them.

The recorded stream (``fixtures/stream.jsonl``) has a window P99 of 11.5 ms in every
snapshot, two a second from run time 100.0 s; its snapshots' ``time_s`` is the
evaluator's clock, so nothing here depends on how fast the test runs.
"""

from __future__ import annotations

import dataclasses

from clawlet_tui.engine.alerts import AlertRule
from clawlet_tui.engine.snapshot import LatencyStats
from clawlet_tui.tui.app import ClawletApp
from clawlet_tui.tui.live import LoadView
from clawlet_tui.tui.replay import RecordedStream
from clawlet_tui.tui.widgets import ConcurrencyPanel, EventLogPanel, LatencyPanel
from clawlet_tui.tui.widgets.status_line import StatusLine

from .conftest import REPO_THEMES, feed_stream, fixed_clock
from .fakes import recorded_snapshots

P99_OVER_10 = AlertRule("p99_ms", above=10, for_s=5, origin="alerts[1]")


def _app(snapshots, rules, tmp_path=None) -> ClawletApp:
    load = LoadView(preset="steady", description="replay", mode="replay", alert_rules=tuple(rules))
    return ClawletApp(
        snapshot_source=RecordedStream(snapshots), clock=fixed_clock, theme_dirs_=[REPO_THEMES],
        replay_load=load, report_dir=tmp_path or ".",
    )


def _status(app: ClawletApp) -> str:
    return str(app.screen.query_one(StatusLine).render())


async def test_header_and_latency_border_show_a_firing_alert(tmp_path) -> None:
    app = _app(recorded_snapshots(), [P99_OVER_10, AlertRule("queue_depth", above=1000)], tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await feed_stream(pilot)
        assert "ALERT p99_ms > 10 ms for 5 s" in _status(app)
        latency = app.screen.query_one(LatencyPanel)
        assert latency.has_class("-alert") and "ALERT p99_ms > 10 ms for 5 s" in str(latency.border_title)
        assert not app.screen.query_one(ConcurrencyPanel).has_class("-alert")  # its rule holds
        lines = [line.plain for line in app.screen.query_one(EventLogPanel).lines]
        fired = [t for t in lines if " alert " in t]
        # pending from the first snapshot (100.0 s) for for_s = 5 s of the stream's own clock
        assert len(fired) == 1 and "105.0s FIRING   p99_ms > 10 ms for 5 s: 11.55 ms" in fired[0], lines
        # the export lists it, still firing
        await pilot.press("w")
        await pilot.pause()
        (report,) = tmp_path.glob("clawlet-report-*.md")
        assert "| `p99_ms > 10 ms for 5 s` (alerts[1]) | 105.0 s | still firing at the end | 11.55 ms |" in (
            report.read_text(encoding="utf-8")
        )


async def test_an_alert_resolves_after_for_s_clear_and_leaves_the_header() -> None:
    recorded = recorded_snapshots()
    # the stream again, with the P99 down to 5 ms from run time 106 s on
    lowered = [
        s if s.uptime_s < 106 else dataclasses.replace(s, window_latency=LatencyStats(count=100, p50_ms=2, p99_ms=5))
        for s in recorded
    ]
    app = _app(lowered, [P99_OVER_10])
    async with app.run_test(size=(160, 48)) as pilot:
        await feed_stream(pilot)
        assert "ALERT" not in _status(app)
        assert not app.screen.query_one(LatencyPanel).has_class("-alert")
        lines = [line.plain for line in app.screen.query_one(EventLogPanel).lines if " alert " in line.plain]
        assert len(lines) == 2 and "FIRING" in lines[0] and "111.0s RESOLVED p99_ms > 10 ms for 5 s: 5 ms" in lines[1]
        (event,) = app.alerts.events
        assert (event.fired_at_s, event.resolved_at_s) == (105.0, 111.0)


async def test_a_narrow_header_keeps_the_alert() -> None:
    app = _app(recorded_snapshots(), [P99_OVER_10, AlertRule("throughput", above=1)])
    async with app.run_test(size=(80, 24)) as pilot:
        await feed_stream(pilot)
        status = _status(app)
        assert "ALERT" in status and "throughput" in status and "p99_ms" in status, status


def test_the_load_view_carries_the_preset_rules_and_its_slo(live_run) -> None:
    """What the dashboard judges: LiveRun.view() carries the preset's rules, the SLO as one."""
    from clawlet_tui.engine.alerts import preset_alert_rules

    view = live_run.view()
    assert view.alert_rules == preset_alert_rules(live_run.preset)
    assert [(r.metric, r.above, r.origin) for r in view.alert_rules] == [("p99_ms", live_run.preset.slo_p99_ms, "slo_p99_ms")]
