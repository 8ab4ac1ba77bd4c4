"""Hand-built snapshots and run results: the report layer is tested without running load."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from clawlet_tui.engine.config import OptimizationConfig
from clawlet_tui.engine.snapshot import (
    BatchStats,
    CacheLevelStats,
    CacheStats,
    ConcurrencyStats,
    LatencyStats,
    MemoryStats,
    MetricsSnapshot,
    Outcomes,
    PoolStats,
)
from clawlet_tui.runner import MachineInfo, RunResult

MACHINE = MachineInfo(
    cpu_model="Intel(R) Xeon(R) CPU @ 2.20GHz",
    cores=2,
    memory_total_bytes=1717986918,
    python_version="3.11.7",
    numpy_version="2.0.0",
    platform="Linux-6.1",
)


@dataclass(frozen=True)
class FakeLoadStats:
    description: str = "open loop, constant 100 req/s, 1 s, uniform over 50 keys"
    mode: str = "open"
    sent: int = 1000
    completed: int = 990
    outstanding: int = 0
    elapsed_s: float = 10.0
    finished: bool = True
    achieved_rps: float = 99.0
    dropped_by_generator: int = 0


def optimized_snapshot() -> MetricsSnapshot:
    return MetricsSnapshot(
        time_s=110.0,
        uptime_s=10.5,
        running=True,
        mode="optimized",
        model_name="latency-5+0.2ms",
        config=OptimizationConfig(max_concurrent=2),
        outcomes=Outcomes(
            submitted=1000, succeeded=990, failed=6, rejected=3, timed_out=1, cancelled=0,
            errors_by_kind=(("BackendError", 6), ("RejectedError", 3)),
        ),
        window_s=10.0,
        window_throughput_rps=101.5,
        total_throughput_rps=128.08,
        window_latency=LatencyStats(count=900, mean_ms=7.5, p50_ms=6.25, p90_ms=9.0, p99_ms=10.0, max_ms=12.0),
        total_latency=LatencyStats(count=1000, mean_ms=7.79, p50_ms=10.33, p90_ms=10.4, p99_ms=10.43, max_ms=31.5),
        batches=BatchStats(
            count=250, items=1000, mean_size=4.0, size_histogram=((1, 10), (2, 20), (4, 220)),
            window_batches_per_s=25.0, window_mean_size=3.9,
            queue_wait=LatencyStats(count=1000, mean_ms=2.0, p50_ms=1.5, p90_ms=3.0, p99_ms=4.5, max_ms=6.0),
            compute=LatencyStats(count=250, mean_ms=5.8, p50_ms=5.8, p90_ms=5.9, p99_ms=6.1, max_ms=7.0),
            splits=2,
        ),
        cache=CacheStats(
            enabled=True,
            l1=CacheLevelStats(enabled=True, size=35, capacity=100, hits=400, misses=600, evictions=7, expirations=1),
            l2=CacheLevelStats(enabled=True, size=50, capacity=0, hits=20, misses=580, volume_bytes=204800),
            inflight_joins=12,
            hit_rate=0.42,
        ),
        memory=MemoryStats(
            rss_bytes=150 * 1024 * 1024, budget_bytes=300 * 1024 * 1024, usage_fraction=0.5, threshold=0.7,
            system_percent=50.0, system_total_bytes=1717986918, gc_triggers=3, manual_gc=1,
            freed_bytes_total=4 * 1024 * 1024, objects_collected_total=1234, l1_entries_dropped_total=5,
        ),
        concurrency=ConcurrencyStats(busy=0, max_concurrent=2, peak_busy=2, queue_depth=0, max_queue_size=1024, completed_batches=250),
        pool=PoolStats(size=2, in_use=0, idle=2, created=2, waits=17, discarded=0),
    )


def baseline_snapshot() -> MetricsSnapshot:
    return MetricsSnapshot(
        uptime_s=10.5,
        mode="baseline",
        model_name="latency-5+0.2ms",
        config=OptimizationConfig.baseline(),
        outcomes=Outcomes(submitted=1000, succeeded=950, timed_out=50, errors_by_kind=()),
        total_throughput_rps=10.0,
        total_latency=LatencyStats(count=1000, mean_ms=100.0, p50_ms=95.0, p90_ms=150.0, p99_ms=200.0, max_ms=250.0),
        batches=BatchStats(count=950, items=950, mean_size=1.0, size_histogram=((1, 950),)),
        cache=CacheStats(enabled=False),
        memory=MemoryStats(rss_bytes=100 * 1024 * 1024, usage_fraction=0.8, threshold=0.7),
        concurrency=ConcurrencyStats(max_concurrent=1, peak_busy=1, completed_batches=950, max_queue_size=1024),
    )


def make_result(snapshot: MetricsSnapshot, *, mode: str | None = None, **changes: object) -> RunResult:
    values: dict[str, object] = dict(
        preset="steady",
        mode=mode or snapshot.mode,
        snapshot=snapshot,
        load_stats=FakeLoadStats(),
        load_description="open loop, constant 100 req/s, 10 s, uniform over 50 keys",
        started_at="2026-02-10T10:00:00+08:00",
        finished_at="2026-02-10T10:00:11+08:00",
        machine=MACHINE,
        model_description="latency model: 5 ms + 0.2 ms per item (sleeps; no compute)",
        preset_description="a steady open-loop load",
    )
    values.update(changes)
    return RunResult(**values)  # type: ignore[arg-type]


@pytest.fixture
def optimized_result() -> RunResult:
    return make_result(optimized_snapshot())


@pytest.fixture
def baseline_result() -> RunResult:
    return make_result(baseline_snapshot())


@pytest.fixture
def factory() -> object:
    """The builders above, for tests that need variations."""
    import types

    return types.SimpleNamespace(
        result=make_result, optimized=optimized_snapshot, baseline=baseline_snapshot, load_stats=FakeLoadStats
    )
