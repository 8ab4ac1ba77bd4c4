"""PerformanceMonitor: outcome counts, window and series on a driven clock."""

from __future__ import annotations

import numpy as np
import pytest

from clawlet_tui.engine.monitor import PerformanceMonitor


class FakeClock:
    def __init__(self, now: float = 500.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_monitor_counts_outcomes_and_errors_by_kind():
    m = PerformanceMonitor(FakeClock())
    for _ in range(5):
        m.record_submitted()
    m.record_success(0.01)
    m.record_failure("BackendError")
    m.record_failure("BackendError")
    m.record_rejected()
    m.record_timeout()
    o = m.outcomes()
    assert (o.submitted, o.succeeded, o.failed, o.rejected, o.timed_out, o.in_flight) == (5, 1, 2, 1, 1, 0)
    assert dict(o.errors_by_kind) == {"BackendError": 2, "RejectedError": 1, "RequestTimeout": 1}
    assert o.success_rate == pytest.approx(0.2)


def test_window_and_series_on_a_driven_clock():
    clock = FakeClock()
    m = PerformanceMonitor(clock, window_s=10.0, history_s=30)
    start = clock.now
    # second k (k = 0..24) completes k+1 requests of (k+1) ms and one batch of k+1 items
    for k in range(25):
        clock.now = start + k + 0.5
        for _ in range(k + 1):
            m.record_success((k + 1) / 1000.0)
        m.record_batch(k + 1, [0.001], 0.002)
    m.record_failure("X")  # in second 24
    clock.now = start + 25.5
    series = m.series()
    assert [p.t_s for p in series] == [float(k + 1) for k in range(25)]
    assert [p.throughput_rps for p in series] == [float(k + 1) for k in range(25)]
    assert series[3].p50_ms == pytest.approx(4.0, rel=0.01) and series[3].mean_ms == pytest.approx(4.0)
    assert series[-1].errors == 1 and series[-1].mean_batch_size == 25.0
    w = m.window()
    throughput, latency, batches_per_s, mean_batch = w.throughput_rps, w.latency, w.batches_per_s, w.mean_batch_size
    # window: seconds 16..25 (25 is current and empty), span 25.5 - 16 = 9.5 s
    completed = sum(k + 1 for k in range(16, 25))
    assert throughput == pytest.approx(completed / 9.5)
    assert latency.count == completed
    assert batches_per_s == pytest.approx(9 / 9.5)
    assert mean_batch == pytest.approx(sum(range(17, 26)) / 9)
    assert m.total_throughput() == pytest.approx(sum(range(1, 26)) / 25.5)
    assert w.errors_per_s == pytest.approx(1 / 9.5)
    stats = m.batch_stats()
    assert stats.count == 25 and stats.items == sum(range(1, 26))


def test_history_ring_is_bounded():
    clock = FakeClock()
    m = PerformanceMonitor(clock, history_s=5)
    start = clock.now
    for k in range(50):
        clock.now = start + k + 0.1
        m.record_success(0.001)
    assert len(m._seconds) == 5
    clock.now = start + 50.5
    assert [p.t_s for p in m.series()] == [46.0, 47.0, 48.0, 49.0, 50.0]
    assert m.succeeded == 50


def test_whole_run_latency_keeps_seconds_that_left_the_ring():
    """Each latency is recorded once, in its second; the whole-run histogram gets all of them,
    also those of seconds the bounded ring has since overwritten."""
    clock = FakeClock()
    m = PerformanceMonitor(clock, history_s=5)
    rng = np.random.default_rng(7)
    start = clock.now
    everything = []
    for k in range(40):
        clock.now = start + k + 0.5
        values = rng.lognormal(0.0, 1.0, 50) / 1000.0
        for v in values:
            m.record_success(float(v))
        everything.extend(values * 1000.0)
    total = m.latency
    assert total.count == len(everything) == 2000
    assert total.max == pytest.approx(max(everything))
    assert total.mean == pytest.approx(np.mean(everything))
    want = np.percentile(everything, [50, 90, 99])
    assert total.percentiles((50.0, 90.0, 99.0)) == pytest.approx(tuple(want), rel=0.01)


def test_window_errors_leave_with_their_seconds():
    """The window's error rate counts failures, rejections and timeouts of its seconds only."""
    clock = FakeClock()
    m = PerformanceMonitor(clock, window_s=10.0, history_s=30)
    start = clock.now
    clock.now = start + 0.5
    m.record_failure("BackendError")
    m.record_rejected()
    m.record_timeout()
    m.record_cancelled()  # the caller gave up: not an error of the engine's
    clock.now = start + 1.0
    assert m.window().errors_per_s == pytest.approx(3 / 1.0)
    clock.now = start + 12.0
    assert m.window().errors_per_s == 0.0


def test_opening_latency_holds_the_first_minute_after_start_or_reset_only():
    clock = FakeClock()
    m = PerformanceMonitor(clock, opening_s=60.0)
    start = clock.now
    for t, ms in ((0.5, 1.0), (30.0, 2.0), (59.9, 3.0), (60.0, 500.0), (90.0, 900.0)):
        clock.now = start + t
        m.record_success(ms / 1000.0)
    assert m.opening_latency.count == 3 and m.opening_latency.max == pytest.approx(3.0, rel=0.01)
    assert m.latency.count == 5
    assert m.in_opening(start + 59.9) and not m.in_opening(start + 60.0)
    m.reset()
    assert m.opening_latency.count == 0 and m.in_opening(clock.now)
