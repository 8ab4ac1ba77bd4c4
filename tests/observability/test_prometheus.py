"""The Prometheus collector: every figure is the snapshot's own, buckets are exact, the
output passes ``promtool check metrics`` where promtool is installed."""

from __future__ import annotations

import dataclasses
import math
import shutil
import subprocess

import pytest
from prometheus_client import generate_latest

from clawlet_tui.engine import OptimizationConfig
from clawlet_tui.engine.snapshot import (
    BatchStats,
    CacheLevelStats,
    CacheStats,
    ConcurrencyStats,
    LatencyStats,
    MemoryStats,
    MetricsSnapshot,
    Outcomes,
)
from clawlet_tui.observability import make_registry
from clawlet_tui.observability.prometheus import LATENCY_BOUNDS_S, batch_size_buckets, latency_buckets

from .conftest import buckets, parse, sample


def display_histogram(counts: dict[int, int]) -> tuple[tuple[float, float, int], ...]:
    """A histogram shaped like the engine's: 8 buckets per decade from 0.001 ms, ``{index: count}``."""
    first, last = min(counts), max(counts)
    return tuple(
        (0.001 * 10.0 ** (i / 8), 0.001 * 10.0 ** ((i + 1) / 8), counts.get(i, 0)) for i in range(first, last + 1)
    )


#: ``{bucket index: count}``: index 15 is 0.075-0.1 ms, 16 is 0.1-0.13 ms, 20 is 0.32-0.42 ms,
#: 24 is 1-1.33 ms, 32 is 10-13 ms, 48 is 1-1.33 s, 53 is 4.2-5.6 s, 58 is 17.8-23.7 s
LATENCY_COUNTS = {15: 2, 16: 3, 20: 1, 24: 5, 25: 2, 28: 3, 32: 7, 40: 1, 48: 4, 53: 2, 58: 1}


def rich_snapshot(**changes) -> MetricsSnapshot:
    """A snapshot with every figure non-zero and distinct, so a swapped field shows."""
    histogram = display_histogram(LATENCY_COUNTS)
    count = sum(LATENCY_COUNTS.values())
    fields = dict(
        uptime_s=12.5,
        running=True,
        model_name="mlp",
        config=OptimizationConfig(batch_size=16, batch_policy="timeout", l1_cache_size=50, memory_budget_bytes=None),
        outcomes=Outcomes(
            submitted=131, succeeded=count + 70, failed=4, rejected=6, timed_out=3, cancelled=2,
            errors_by_kind=(("BackendError", 4), ("PredictedLate", 1), ("RejectedError", 5), ("RequestTimeout", 3)),
        ),
        window_latency=LatencyStats(count=20, mean_ms=4.0, p50_ms=1.2, p90_ms=9.0, p99_ms=40.0, max_ms=41.0),
        window_latency_histogram=histogram,
        total_latency=LatencyStats(count=count + 70, mean_ms=5.5, p50_ms=1.1, p90_ms=10.0, p99_ms=700.0, max_ms=2e4),
        batches=BatchStats(
            count=11, items=58, size_histogram=((1, 3), (2, 2), (3, 1), (8, 4), (16, 1)), splits=2, shed=1,
            dispatch_reasons=(("full", 5), ("worker_free", 4), ("wait_expired", 2), ("predicted_gain", 0)),
        ),
        cache=CacheStats(
            enabled=True,
            l1=CacheLevelStats(enabled=True, size=9, capacity=50, hits=30, misses=17, evictions=2, expirations=1),
            l2=CacheLevelStats(enabled=True, size=12, hits=5, misses=12, evictions=3, volume_bytes=4096),
            inflight_joins=7, l2_bypassed=1,
        ),
        memory=MemoryStats(rss_bytes=123_456_789, budget_bytes=2_000_000_000, gc_triggers=3, manual_gc=1),
        concurrency=ConcurrencyStats(busy=2, max_concurrent=4, peak_busy=4, queue_depth=13, max_queue_size=512),
    )
    fields.update(changes)
    return MetricsSnapshot(**fields)


def test_counters_and_gauges_are_the_snapshots_own(scrape) -> None:
    snap = rich_snapshot()
    families = scrape(make_registry(lambda: snap)[0])
    o = snap.outcomes
    for outcome, value in [("ok", o.succeeded), ("failed", o.failed), ("rejected", o.rejected),
                           ("timed_out", o.timed_out), ("cancelled", o.cancelled)]:
        assert sample(families, "clawlet_requests", "clawlet_requests_total", outcome=outcome) == value
    assert families["clawlet_requests"]["type"] == "counter"
    assert sample(families, "clawlet_requests_in_flight") == o.in_flight == 131 - (o.finished)
    for kind, count in o.errors_by_kind:
        assert sample(families, "clawlet_request_errors", "clawlet_request_errors_total", kind=kind) == count
    for level, stats in (("l1", snap.cache.l1), ("l2", snap.cache.l2)):
        total = "clawlet_cache_requests_total"
        assert sample(families, "clawlet_cache_requests", total, level=level, result="hit") == stats.hits
        assert sample(families, "clawlet_cache_requests", total, level=level, result="miss") == stats.misses
        assert sample(families, "clawlet_cache_evictions", "clawlet_cache_evictions_total", level=level) == stats.evictions
        assert sample(families, "clawlet_cache_entries", level=level) == stats.size
    assert sample(families, "clawlet_cache_inflight_joins", "clawlet_cache_inflight_joins_total") == 7
    assert sample(families, "clawlet_cache_l2_bytes") == 4096
    assert sample(families, "clawlet_queue_depth") == 13
    assert sample(families, "clawlet_queue_capacity") == 512
    assert sample(families, "clawlet_workers_busy") == 2
    assert sample(families, "clawlet_workers_max") == 4
    assert families["clawlet_queue_depth"]["type"] == "gauge"
    assert sample(families, "clawlet_process_resident_memory_bytes") == 123_456_789
    assert sample(families, "clawlet_gc_runs", "clawlet_gc_runs_total", trigger="threshold") == 3
    assert sample(families, "clawlet_gc_runs", "clawlet_gc_runs_total", trigger="manual") == 1
    for reason, count in snap.batches.dispatch_reasons:
        assert sample(families, "clawlet_batch_dispatches", "clawlet_batch_dispatches_total", reason=reason) == count
    assert sample(families, "clawlet_batch_splits", "clawlet_batch_splits_total") == 2
    assert sample(families, "clawlet_requests_shed", "clawlet_requests_shed_total") == 1
    assert sample(families, "clawlet_engine_running") == 1
    assert sample(families, "clawlet_uptime_seconds") == 12.5


def test_config_is_an_info_metric_with_every_field() -> None:
    snap = rich_snapshot()
    families = parse(generate_latest(make_registry(lambda: snap)[0]).decode())
    [(name, labels)] = families["clawlet_config_info"]["samples"]
    labels = dict(labels)
    assert families["clawlet_config_info"]["samples"][(name, tuple(sorted(labels.items())))] == 1
    assert labels["batch_size"] == "16"
    assert labels["batch_policy"] == "timeout"
    assert labels["enable_cache"] == "true"
    assert labels["memory_budget_bytes"] == ""
    assert labels["batch_timeout_s"] == "0.05"
    assert set(labels) == set(snap.config.to_dict())
    [(_, engine_labels)] = families["clawlet_engine_info"]["samples"]
    assert dict(engine_labels) == {"mode": "optimized", "model": "mlp"}


def test_batch_size_histogram_is_exact(scrape) -> None:
    snap = rich_snapshot()
    families = scrape(make_registry(lambda: snap)[0])
    got = dict(buckets(families, "clawlet_batch_size"))
    for le, cumulative in got.items():
        assert cumulative == sum(n for size, n in snap.batches.size_histogram if size <= le)
    assert got[math.inf] == snap.batches.count == sample(families, "clawlet_batch_size", "clawlet_batch_size_count")
    assert sample(families, "clawlet_batch_size", "clawlet_batch_size_sum") == snap.batches.items


def test_without_a_whole_run_histogram_latency_has_exact_count_and_sum_only(scrape) -> None:
    """Today's snapshot: no whole-run histogram, so no finer bucket than +Inf is given."""
    snap = rich_snapshot()
    families = scrape(make_registry(lambda: snap)[0])
    assert buckets(families, "clawlet_request_latency_seconds") == [(math.inf, snap.total_latency.count)]
    name = "clawlet_request_latency_seconds"
    assert sample(families, name, name + "_count") == snap.total_latency.count == snap.outcomes.succeeded
    assert sample(families, name, name + "_sum") == pytest.approx(5.5 * snap.total_latency.count / 1000)


def test_every_latency_bucket_is_exact(scrape) -> None:
    histogram = display_histogram(LATENCY_COUNTS)
    count = sum(LATENCY_COUNTS.values())
    snap = dataclasses.replace(
        rich_snapshot(), total_latency=LatencyStats(count=count, mean_ms=3.0), total_latency_histogram=histogram
    )
    families = scrape(make_registry(lambda: snap)[0])
    got = buckets(families, "clawlet_request_latency_seconds")
    # every bound is an edge of the engine's 8-per-decade buckets, so none is left out
    assert [le for le, _ in got] == [*LATENCY_BOUNDS_S, math.inf]
    for le, cumulative in got:
        exact = sum(n for _, high, n in histogram if high <= le * 1000 * (1 + 1e-9))
        assert cumulative == exact, le
    values = [c for _, c in got]
    assert values == sorted(values) and values[-1] == count
    # by hand: <= 0.1 ms is bucket 15; <= 1 ms adds 16 and 20; <= 10 s is all but bucket 58
    assert dict(got)[1e-4] == 2
    assert dict(got)[1e-3] == 2 + 3 + 1
    assert dict(got)[10.0] == count - 1


def test_a_bound_inside_a_bucket_is_left_out_not_guessed() -> None:
    histogram = ((0.9, 1.5, 4), (1.5, 2.5, 6))  # ms; 1 ms falls inside the first bucket
    got = latency_buckets(histogram, 10, bounds_s=(0.0005, 0.001, 0.0015, 0.002, 0.0025, 0.01))
    assert got == [("0.0005", 0), ("0.0015", 4), ("0.0025", 10), ("0.01", 10), ("+Inf", 10)]


def test_empty_histograms_give_zero_buckets() -> None:
    assert latency_buckets((), 0)[-1] == ("+Inf", 0)
    assert all(count == 0 for _, count in latency_buckets((), 0))
    assert latency_buckets(None, 5) == [("+Inf", 5)]
    assert batch_size_buckets(())[-1] == ("+Inf", 0)


def test_window_summary_carries_the_dashboards_quantiles(scrape) -> None:
    snap = rich_snapshot()
    families = scrape(make_registry(lambda: snap)[0])
    name = "clawlet_request_latency_window_seconds"
    assert families[name]["type"] == "summary"
    assert sample(families, name, quantile="0.5") == pytest.approx(0.0012)
    assert sample(families, name, quantile="0.99") == pytest.approx(0.040)
    assert sample(families, name, name + "_count") == snap.total_latency.count


def test_one_snapshot_per_scrape_and_registries_do_not_clash(scrape) -> None:
    calls = []

    def source(n: int):
        def take():
            calls.append(n)
            return rich_snapshot(outcomes=Outcomes(submitted=n, succeeded=n))

        return take

    first, _ = make_registry(source(3))
    second, _ = make_registry(source(8))
    a, b = scrape(first), scrape(second)
    assert sample(a, "clawlet_requests", "clawlet_requests_total", outcome="ok") == 3
    assert sample(b, "clawlet_requests", "clawlet_requests_total", outcome="ok") == 8
    assert calls == [3, 8]


def test_a_failing_source_is_counted_not_raised(scrape) -> None:
    def broken():
        raise RuntimeError("engine loop is gone")

    registry, collector = make_registry(broken)
    families = scrape(registry)
    assert sample(families, "clawlet_exporter_snapshot_failures", "clawlet_exporter_snapshot_failures_total") == 1
    assert "clawlet_requests" not in families
    assert collector.last_error == "RuntimeError: engine loop is gone"
    assert "clawlet_requests" not in scrape(make_registry(lambda: None)[0])  # nothing published yet


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed (Debian: apt install prometheus)")
def test_promtool_accepts_the_exposition() -> None:
    histogram = display_histogram(LATENCY_COUNTS)
    snap = dataclasses.replace(rich_snapshot(), total_latency_histogram=histogram)
    for registry in (make_registry(lambda: snap)[0], make_registry(MetricsSnapshot)[0]):
        result = subprocess.run(
            ["promtool", "check", "metrics"], input=generate_latest(registry), capture_output=True, timeout=30
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.strip() == b"" and result.stderr.strip() == b"", result.stdout + result.stderr
