"""A real engine behind LatestSnapshot and MetricsServer: a scrape during the run agrees
with the engine's own counters, and the snapshot's latency histogram edges line up with
every ``le`` bound."""

from __future__ import annotations

import asyncio
import math
import threading
import urllib.request

from clawlet_tui.engine.snapshot import MetricsSnapshot
from clawlet_tui.models import FunctionModel
from clawlet_tui.observability import LatestSnapshot, MetricsServer
from clawlet_tui.observability.prometheus import LATENCY_BOUNDS_S, latency_buckets

from .conftest import buckets, parse, sample


def double_or_fail(batch: list[int]) -> list[int]:
    if any(x < 0 for x in batch):
        raise ValueError("negative input")
    return [x * 2 for x in batch]


def scrape_url(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return parse(response.read().decode())


async def run_some_requests(engine) -> None:
    """28 requests: 20 distinct, 6 repeats (cache hits), 2 that make the model raise."""
    await asyncio.gather(*(engine.submit(i) for i in range(20)))
    await asyncio.gather(*(engine.submit(i) for i in range(6)))
    for bad in (-1, -2):
        try:
            await engine.submit(bad)
        except Exception:
            pass


async def test_a_scrape_during_a_run_agrees_with_the_engine(make_engine, scrape) -> None:
    engine = await make_engine(FunctionModel(double_or_fail, name="double"), batch_size=4, batch_timeout_s=0.001)
    latest = LatestSnapshot(engine.snapshot, interval_s=60.0)  # refreshed by hand below
    latest.start()
    assert latest.get() is not None
    await run_some_requests(engine)
    published = engine.snapshot()
    latest.publish(published)
    with MetricsServer(0, latest.get) as server:
        families = await asyncio.to_thread(scrape_url, server.url)
    await latest.stop()
    report = engine.snapshot()  # what the run's report reads
    assert engine.running

    o = report.outcomes
    assert (o.succeeded, o.failed) == (26, 2)
    total = "clawlet_requests_total"
    assert sample(families, "clawlet_requests", total, outcome="ok") == o.succeeded
    assert sample(families, "clawlet_requests", total, outcome="failed") == o.failed
    assert sample(families, "clawlet_requests", total, outcome="rejected") == o.rejected == 0
    for kind, count in o.errors_by_kind:
        assert sample(families, "clawlet_request_errors", "clawlet_request_errors_total", kind=kind) == count
    l1 = report.cache.l1
    assert l1.hits == 6
    assert sample(families, "clawlet_cache_requests", "clawlet_cache_requests_total", level="l1", result="hit") == 6
    assert sample(families, "clawlet_cache_requests", "clawlet_cache_requests_total", level="l1", result="miss") == l1.misses
    name = "clawlet_request_latency_seconds"
    assert sample(families, name, name + "_count") == report.total_latency.count == o.succeeded
    assert sample(families, "clawlet_batch_size", "clawlet_batch_size_count") == report.batches.count
    assert sample(families, "clawlet_batch_size", "clawlet_batch_size_sum") == report.batches.items
    for le, cumulative in buckets(families, "clawlet_batch_size"):
        assert cumulative == sum(n for size, n in report.batches.size_histogram if size <= le)
    assert sample(families, "clawlet_queue_depth") == 0
    # a gauge measured when the snapshot is taken: the published one's
    assert sample(families, "clawlet_process_resident_memory_bytes") == published.memory.rss_bytes > 0
    [(_, labels)] = families["clawlet_config_info"]["samples"]
    assert dict(labels)["batch_size"] == "4"


async def test_every_latency_bound_is_an_edge_of_the_engines_histogram(make_engine) -> None:
    """On real latencies: the engine's histogram edges hit every bound, so no bucket is left out."""
    engine = await make_engine(FunctionModel(double_or_fail, name="double"), batch_size=4, batch_timeout_s=0.001)
    await asyncio.gather(*(engine.submit(i) for i in range(40)))
    snap = engine.snapshot()
    histogram = snap.window_latency_histogram  # the whole run is inside the window here
    assert sum(n for _, _, n in histogram) == snap.window_latency.count == 40
    got = latency_buckets(histogram, 40)
    assert [float(le) for le, _ in got] == [*LATENCY_BOUNDS_S, math.inf]
    counts = [c for _, c in got]
    assert counts == sorted(counts) and counts[-1] == 40
    for le, cumulative in got[:-1]:
        assert cumulative == sum(n for _, high, n in histogram if high <= float(le) * 1000 * (1 + 1e-9))


async def test_latest_snapshot_refreshes_on_the_loop_and_publishes_a_last_one_on_stop() -> None:
    threads = []

    def source() -> MetricsSnapshot:
        threads.append(threading.current_thread())
        return MetricsSnapshot(uptime_s=float(len(threads)))

    latest = LatestSnapshot(source, interval_s=3600.0)
    assert latest.get() is None
    latest.start()
    assert latest.get().uptime_s == 1.0
    latest.start()  # already running: no second task
    await latest.stop()
    assert latest.get().uptime_s == 2.0
    assert threads == [threading.current_thread()] * 2
    await latest.stop()  # twice is fine
