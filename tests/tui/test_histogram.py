"""The latency histogram: bars on log buckets, P50/P99 under the right buckets, decade ticks,
and a plain message instead of a crash when the snapshot has no histogram."""

from __future__ import annotations

from textual.content import Content

from clawlet_tui.engine.snapshot import MetricsSnapshot
from clawlet_tui.tui.widgets import LatencyPanel
from clawlet_tui.tui.widgets.histogram import LatencyHistogram, bucket_index, histogram_lines, merge_buckets

from .conftest import feed_stream, make_replay_app

#: two modes: hits at 0.04-0.06 ms, computed at 2-8 ms; empty buckets between
BIMODAL = (
    (0.03, 0.04, 10),
    (0.04, 0.06, 500),
    (0.06, 0.1, 40),
    (0.1, 0.2, 0),
    (0.2, 0.5, 0),
    (0.5, 1.0, 0),
    (1.0, 2.0, 20),
    (2.0, 4.0, 300),
    (4.0, 8.0, 120),
    (8.0, 16.0, 10),
)


def plain(lines: list[str]) -> list[str]:
    return [Content.from_markup(line).plain for line in lines]


def test_bars_follow_counts_and_markers_sit_under_p50_and_p99() -> None:
    width, height = 40, 8
    lines = plain(histogram_lines(BIMODAL, p50_ms=0.05, p99_ms=6.0, width=width, height=height))
    assert len(lines) == height and all(len(line) <= width for line in lines)
    bars, markers, axis = lines[:-2], lines[-2], lines[-1]
    edges = [i * width // len(BIMODAL) for i in range(len(BIMODAL) + 1)]
    column = lambda i: [row[edges[i]] if edges[i] < len(row) else " " for row in bars]  # noqa: E731
    assert column(1) == ["█"] * len(bars), "the tallest bucket fills the height"
    assert set(column(4)) == {" "}, "an empty bucket draws nothing"
    assert column(9)[-1] != " ", "a small non-empty bucket still shows"
    assert markers.index("▲P50") in range(edges[1], edges[2])
    assert markers.index("▲P99") in range(edges[8], edges[9])
    assert [tick for tick in axis.split() if tick.startswith("┴")] == ["┴0.1", "┴1", "┴10"]


def test_narrow_histogram_merges_buckets_and_keeps_both_markers() -> None:
    lines = plain(histogram_lines(BIMODAL, 0.05, 6.0, width=6, height=5))
    assert all(len(line) <= 6 for line in lines)
    assert merge_buckets(BIMODAL, 6)[0] == (0.03, 0.06, 510)
    assert bucket_index(merge_buckets(BIMODAL, 6), 6.0) == 4


def test_empty_or_zero_histogram_says_so() -> None:
    assert "no histogram" in plain(histogram_lines((), 0.0, 0.0, 30, 6))[0]
    assert "no requests" in plain(histogram_lines(((0.1, 0.2, 0),), 0.0, 0.0, 30, 6))[0]


async def test_h_switches_the_latency_panel_to_the_recorded_histogram_and_back() -> None:
    app = make_replay_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await feed_stream(pilot)
        panel = app.screen.query_one(LatencyPanel)
        histogram = panel.query_one(LatencyHistogram)
        assert panel.view == "trend" and not histogram.display
        await pilot.press("h")
        assert panel.view == "histogram" and histogram.display and not panel.query_one("#latency-chart").display
        assert histogram.buckets == app.last_snapshot.window_latency_histogram
        assert panel.border_title == "Latency histogram"
        await pilot.press("h")
        assert panel.view == "trend" and not histogram.display


async def test_histogram_view_of_a_snapshot_without_one() -> None:
    app = make_replay_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await feed_stream(pilot)
        app._refresh_timer.stop()  # a late tick would show the recording's last snapshot again
        panel = app.screen.query_one(LatencyPanel)
        panel.view = "histogram"
        panel.snapshot = MetricsSnapshot()  # what an engine that does not fill the field sends
        await pilot.pause()
        assert "no histogram" in str(panel.query_one(LatencyHistogram).render())
