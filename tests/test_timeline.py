"""The timeline copies the monitor's seconds out of successive snapshots: nothing counted twice,
nothing lost when the monitor's ring moves on, gauges and hit rate from the same snapshots."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from clawlet_tui.engine.monitor import PerformanceMonitor
from clawlet_tui.engine.snapshot import (
    CacheLevelStats,
    CacheStats,
    ConcurrencyStats,
    MemoryStats,
    MetricsSnapshot,
    SeriesPoint,
)
from clawlet_tui.timeline import TIMELINE_FIELDS, Timeline, TimelinePoint, TimelineRecorder


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def snapshot(
    monitor: PerformanceMonitor, *, hits: int = 0, misses: int = 0, l2_hits: int = 0,
    queue: int = 0, busy: int = 0, rss: int = 0,
) -> MetricsSnapshot:
    return MetricsSnapshot(
        series=monitor.series(),
        uptime_s=monitor.uptime(),
        cache=CacheStats(
            enabled=True, l1=CacheLevelStats(hits=hits, misses=misses), l2=CacheLevelStats(hits=l2_hits),
        ),
        concurrency=ConcurrencyStats(queue_depth=queue, busy=busy),
        memory=MemoryStats(rss_bytes=rss),
    )


def test_each_finished_second_once_with_the_monitors_own_figures():
    clock = Clock()
    monitor = PerformanceMonitor(clock, history_s=5)
    recorder = TimelineRecorder()
    for second in range(12):  # more seconds than the monitor's ring holds
        for i in range(second + 1):
            clock.now = second + 0.1 + i * 0.01
            monitor.record_success(0.001 * (i + 1))
        monitor.record_batch(second + 1, [0.0] * (second + 1), 0.001)
        if second == 3:
            monitor.record_failure("BackendError", "boom")
        for tick in (0.25, 0.5, 0.75, 1.0):  # the runner's progress ticks
            clock.now = second + tick
            recorder.observe(snapshot(monitor, rss=1000 + second))
    timeline = recorder.timeline()
    assert timeline.column("t_s") == tuple(float(s) for s in range(1, 13))  # none lost, none twice
    assert timeline.column("throughput_rps") == tuple(float(s) for s in range(1, 13))
    assert timeline.column("mean_batch_size") == tuple(float(s) for s in range(1, 13))
    assert timeline.column("errors") == (0, 0, 0, 1, *([0] * 8))
    # P99 of 1..n ms is the monitor's: the same figure its own series gave at the time
    assert timeline.points[-1].p99_ms == pytest.approx(12 * 0.99, rel=0.02)
    # the gauge is the snapshot that first showed the second finished (the tick at its end)
    assert timeline.column("rss_bytes") == tuple(1000 + s for s in range(12))


def test_hit_rate_is_the_interval_between_samples_and_none_without_lookups():
    clock = Clock()
    monitor = PerformanceMonitor(clock)
    recorder = TimelineRecorder()
    clock.now = 0.5
    monitor.record_success(0.001)
    clock.now = 1.0
    recorder.observe(snapshot(monitor, hits=0, misses=0))  # cache off so far: no lookups
    clock.now = 1.5
    monitor.record_success(0.001)
    clock.now = 2.0
    recorder.observe(snapshot(monitor, hits=6, l2_hits=2, misses=4))  # 10 lookups: 6 L1 + 2 L2 hits
    clock.now = 3.0
    recorder.observe(snapshot(monitor, hits=16, l2_hits=2, misses=4))  # next 10 lookups all hit L1
    recorder.observe(snapshot(monitor, hits=99, l2_hits=2, misses=4))  # no new second: nothing recorded
    assert recorder.timeline().column("hit_rate") == (None, 0.8, 1.0)


def test_a_late_tick_gives_its_gauges_to_every_second_it_finds():
    clock = Clock()
    monitor = PerformanceMonitor(clock)
    recorder = TimelineRecorder()
    for second in range(3):
        clock.now = second + 0.5
        monitor.record_success(0.001)
    clock.now = 3.1
    assert recorder.observe(snapshot(monitor, queue=7, busy=2)) == 3
    assert recorder.timeline().column("queue_depth") == (7, 7, 7)
    assert recorder.timeline().column("busy") == (2, 2, 2)


def test_a_metrics_reset_starts_the_timeline_again():
    clock = Clock()
    monitor = PerformanceMonitor(clock)
    recorder = TimelineRecorder()
    for second in range(3):
        clock.now = second + 0.5
        monitor.record_success(0.001)
    clock.now = 3.0
    recorder.observe(snapshot(monitor, hits=5, misses=5))
    monitor.reset()  # started_at is now 3.0
    clock.now = 3.5
    monitor.record_success(0.001)
    clock.now = 4.0
    recorder.observe(snapshot(monitor, hits=1, misses=1))
    assert recorder.timeline().column("t_s") == (1.0,)
    assert recorder.timeline().column("hit_rate") == (0.5,)


def test_from_series_takes_what_one_snapshot_holds_without_a_hit_rate():
    points = tuple(SeriesPoint(float(t), 10.0 * t, 1.0, 2.0, 1.5, 0, 1.0) for t in (1, 2))
    snap = dataclasses.replace(snapshot(PerformanceMonitor(Clock()), hits=5, misses=5, queue=3), series=points)
    timeline = Timeline.from_series(snap)
    assert timeline.column("throughput_rps") == (10.0, 20.0)
    assert timeline.column("hit_rate") == (None, None)
    assert timeline.column("queue_depth") == (3, 3)


def test_column_names_every_field_and_refuses_others():
    point = TimelinePoint(1.0, 2.0, 3.0, 4.0, 3.5, 1.0, 0, None, 0, 0, 1)
    timeline = Timeline((point,))
    assert {name: timeline.column(name)[0] for name in TIMELINE_FIELDS} == dataclasses.asdict(point)
    with pytest.raises(KeyError, match="no timeline field 'p95_ms'"):
        timeline.column("p95_ms")


def test_a_headless_run_keeps_a_timeline_that_agrees_with_its_totals():
    pytest.importorskip("clawlet_tui.engine.engine")
    from clawlet_tui.load import load_preset
    from clawlet_tui.runner import run_preset

    result = asyncio.run(run_preset(load_preset("hot-keys"), duration_s=2.5))
    timeline = result.timeline
    assert timeline.column("t_s")[:2] == (1.0, 2.0)
    assert all(b - a == 1.0 for a, b in zip(timeline.column("t_s"), timeline.column("t_s")[1:]))
    # whole seconds only: never more successes than the run had
    assert 0 < sum(timeline.column("throughput_rps")) <= result.snapshot.outcomes.succeeded
    assert all(0.0 <= rate <= 1.0 for rate in timeline.column("hit_rate") if rate is not None)
    assert all(rss > 0 for rss in timeline.column("rss_bytes"))


def test_a_second_in_which_nothing_ended_is_a_zero_not_a_gap():
    clock = Clock()
    monitor = PerformanceMonitor(clock)
    recorder = TimelineRecorder()
    for second in (0, 3):  # seconds 1 and 2 (t_s 2.0, 3.0) stall
        clock.now = second + 0.5
        monitor.record_success(0.001)
    clock.now = 5.2  # the fifth second (t_s 5.0) finished empty too
    recorder.observe(snapshot(monitor))
    timeline = recorder.timeline()
    assert timeline.column("t_s") == (1.0, 2.0, 3.0, 4.0, 5.0)
    assert timeline.column("throughput_rps") == (1.0, 0.0, 0.0, 1.0, 0.0)
    assert timeline.column("p99_ms")[1:3] == (0.0, 0.0)
