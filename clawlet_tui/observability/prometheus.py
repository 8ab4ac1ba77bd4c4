"""Prometheus exposition of an engine's :class:`MetricsSnapshot`.

:class:`SnapshotCollector` is a ``prometheus_client`` custom collector: on each scrape it
takes **one** snapshot from its source and turns it into metric families.  There is no
second bookkeeping path: every figure is one of the engine's own counters or gauges as
the snapshot carries it, so a scrape and the run's report can never disagree, and a
scrape costs nothing while nobody scrapes.

What is guaranteed:

- Counters (``*_total``) and histogram ``_count``/``_bucket`` values are the engine's
  counts, exactly.  They start at 0 when the engine starts and go back to 0 when its
  metrics are reset (the dashboard's reset key); Prometheus's ``rate()`` treats that as
  a counter reset.
- ``clawlet_request_latency_seconds`` only has ``le`` bounds that coincide with edges of
  the engine's own latency histogram, so a bucket never holds an estimate.  A bound the
  snapshot's histogram cannot answer exactly is left out rather than guessed.  The
  bounds (10^(k/4) s from 0.1 ms to 10 s) all fall on edges of the engine's own
  histogram (``MetricsSnapshot.total_latency_histogram``), so every ``le`` count is
  exact.
- ``clawlet_batch_size`` is exact: batch sizes are integers counted one by one.
- The sample set is the same on every scrape of an engine (label values depend only on
  the config), except ``clawlet_request_errors_total{kind}``, which gains a series the
  first time an error class occurs, and ``clawlet_config_info``, which changes labels
  when the config is changed live.

Each exporter has its own :class:`~prometheus_client.CollectorRegistry`
(:func:`make_registry`), never the global one, so two engines in one process (tests,
``compare``) do not clash.

The source is called on the HTTP server's threads (one per scrape, possibly two at
once): it must be safe to call from any thread.  :meth:`ClawletEngine.snapshot` is not
(it reads the engine's state while the engine loop changes it); pass
:meth:`LatestSnapshot.get <clawlet_tui.observability.latest.LatestSnapshot.get>`
instead.  A source may return None ("no snapshot yet"): the scrape then has no engine
metrics.  A source that raises does not fail the scrape (the HTTP server would print a
traceback over the dashboard): the collector counts it in
``clawlet_exporter_snapshot_failures_total`` and keeps the message in
:attr:`SnapshotCollector.last_error`.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Callable, Iterator, Sequence

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString

from ..engine.snapshot import MetricsSnapshot

SnapshotSource = Callable[[], "MetricsSnapshot | None"]

#: ``le`` bounds of ``clawlet_request_latency_seconds``: 4 per decade from 0.1 ms to 10 s
#: (10^(k/4) s).  The engine's display buckets have 8 edges per decade at 10^(i/8) ms, so
#: every bound here is one of their edges.
LATENCY_BOUNDS_S: tuple[float, ...] = tuple(10.0 ** (k / 4) for k in range(-16, 5))

#: ``le`` bounds of ``clawlet_batch_size``: powers of two up to the largest batch_size the
#: config allows (4096).  Fixed whatever the config, so the series set stays stable when
#: batch_size changes live; batch sizes are integers, so each count is exact.
BATCH_SIZE_BOUNDS: tuple[int, ...] = tuple(2**k for k in range(13))

#: outcome label values of ``clawlet_requests_total``, and the :class:`Outcomes` field of each
OUTCOMES: tuple[tuple[str, str], ...] = (
    ("ok", "succeeded"),
    ("failed", "failed"),
    ("rejected", "rejected"),
    ("timed_out", "timed_out"),
    ("cancelled", "cancelled"),
)

#: quantiles of the windowed latency summary, and the :class:`LatencyStats` field of each
WINDOW_QUANTILES: tuple[tuple[str, str], ...] = (("0.5", "p50_ms"), ("0.9", "p90_ms"), ("0.99", "p99_ms"))

# Two bounds closer than this (relative) are the same edge: the engine computes its edges
# as 0.001 * 10 ** (i / 8) ms, we compute ours as 10 ** (k / 4) s.
_SAME_EDGE = 1e-9


def make_registry(snapshot_source: SnapshotSource) -> tuple[CollectorRegistry, SnapshotCollector]:
    """A fresh registry holding one :class:`SnapshotCollector` on ``snapshot_source``."""
    registry = CollectorRegistry(auto_describe=False)
    collector = SnapshotCollector(snapshot_source)
    registry.register(collector)
    return registry, collector


class SnapshotCollector:
    """Yields the metric families of one snapshot per scrape (see the module docstring)."""

    def __init__(self, snapshot_source: SnapshotSource) -> None:
        self.snapshot_source = snapshot_source
        #: snapshots the source failed to give, and the last such error (``Type: message``)
        self.failures = 0
        self.last_error: str | None = None
        self._lock = threading.Lock()

    def collect(self) -> Iterator[Metric]:
        try:
            snapshot = self.snapshot_source()
        except Exception as exc:  # reported as a metric, not as a traceback on stderr
            with self._lock:
                self.failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
            snapshot = None
        yield CounterMetricFamily(
            "clawlet_exporter_snapshot_failures_total",
            "Scrapes for which the engine's snapshot could not be read (they carry no engine metrics).",
            value=self.failures,
        )
        if snapshot is not None:
            yield from snapshot_families(snapshot)


def snapshot_families(snapshot: MetricsSnapshot) -> Iterator[Metric]:
    """Every engine metric family of ``snapshot`` (pure: no I/O, no state)."""
    outcomes = snapshot.outcomes
    requests = CounterMetricFamily(
        "clawlet_requests_total", "Requests finished, by outcome.", labels=["outcome"]
    )
    for label, attribute in OUTCOMES:
        requests.add_metric([label], getattr(outcomes, attribute))
    yield requests
    yield GaugeMetricFamily(
        "clawlet_requests_in_flight", "Requests submitted and not finished yet.", value=outcomes.in_flight
    )
    errors = CounterMetricFamily(
        "clawlet_request_errors_total",
        "Failed, rejected and timed-out requests by error class (a model's own exception class for model errors).",
        labels=["kind"],
    )
    for kind, count in outcomes.errors_by_kind:
        errors.add_metric([kind], count)
    yield errors

    total = snapshot.total_latency
    yield HistogramMetricFamily(
        "clawlet_request_latency_seconds",
        "Latency of successful requests, from submission (or intended send time) to result, whole run.",
        buckets=latency_buckets(snapshot.total_latency_histogram, total.count),
        sum_value=total.mean_ms * total.count / 1000.0,
    )
    yield window_latency_summary(snapshot)

    batches = snapshot.batches
    yield HistogramMetricFamily(
        "clawlet_batch_size",
        "Requests per model call.",
        buckets=batch_size_buckets(batches.size_histogram),
        sum_value=batches.items,
    )
    dispatches = CounterMetricFamily(
        "clawlet_batch_dispatches_total", "Batches sent to a worker, by why they left the queue.", labels=["reason"]
    )
    for reason, count in batches.dispatch_reasons:
        dispatches.add_metric([reason], count)
    yield dispatches
    yield CounterMetricFamily(
        "clawlet_batch_splits_total", "Failed batches re-run split in halves to isolate bad requests.",
        value=batches.splits,
    )
    yield CounterMetricFamily(
        "clawlet_requests_shed_total",
        "Requests rejected at once because they could not finish within request_timeout_s (part of outcome=\"rejected\").",
        value=batches.shed,
    )

    yield from _cache_families(snapshot)

    concurrency = snapshot.concurrency
    yield GaugeMetricFamily("clawlet_queue_depth", "Requests waiting for a batch.", value=concurrency.queue_depth)
    yield GaugeMetricFamily(
        "clawlet_queue_capacity", "Most requests that may wait (max_queue_size).", value=concurrency.max_queue_size
    )
    yield GaugeMetricFamily("clawlet_workers_busy", "Batches executing now.", value=concurrency.busy)
    yield GaugeMetricFamily(
        "clawlet_workers_max", "Batches that may execute at once (max_concurrent).", value=concurrency.max_concurrent
    )

    memory = snapshot.memory
    yield GaugeMetricFamily(
        "clawlet_process_resident_memory_bytes",
        "Resident memory of the engine's process, as its memory optimizer measures it.",
        value=memory.rss_bytes,
    )
    yield GaugeMetricFamily(
        "clawlet_memory_budget_bytes", "Memory the engine's process may use.", value=memory.budget_bytes
    )
    gc_runs = CounterMetricFamily(
        "clawlet_gc_runs_total", "Garbage collections run by the memory optimizer, by trigger.", labels=["trigger"]
    )
    gc_runs.add_metric(["threshold"], memory.gc_triggers)
    gc_runs.add_metric(["manual"], memory.manual_gc)
    yield gc_runs

    yield GaugeMetricFamily("clawlet_uptime_seconds", "Seconds since the engine started or its metrics were reset.",
                            value=snapshot.uptime_s)
    yield GaugeMetricFamily("clawlet_engine_running", "1 while the engine accepts requests, else 0.",
                            value=1 if snapshot.running else 0)
    yield InfoMetricFamily(
        "clawlet_engine", "The engine's mode and model.", value={"mode": snapshot.mode, "model": snapshot.model_name}
    )
    yield InfoMetricFamily("clawlet_config", "The engine's configuration in force.", value=config_labels(snapshot))


def latency_buckets(
    histogram: Sequence[tuple[float, float, int]] | None, count: int, bounds_s: Sequence[float] = LATENCY_BOUNDS_S
) -> list[tuple[str, float]]:
    """Cumulative ``(le, count)`` pairs in seconds from ``((low_ms, high_ms, count), ...)``.

    ``histogram`` covers the non-empty range of a log-bucketed histogram (empty buckets
    inside it kept), as :class:`MetricsSnapshot` carries them; ``count`` is the number of
    values it holds.  A bound is kept when its answer is exact: below the first bucket
    (0), at or above the last (``count``), or on an edge between two buckets.  A bound
    inside a bucket is left out.  None (no histogram), or an empty one that should hold
    ``count`` > 0 values, gives ``+Inf`` alone.
    """
    if histogram is None or (count and not histogram):
        return [("+Inf", count)]
    out: list[tuple[str, float]] = []
    for bound_s in bounds_s:
        bound_ms = bound_s * 1000.0
        cumulative = _cumulative_at(histogram, bound_ms)
        if cumulative is not None:
            out.append((floatToGoString(bound_s), cumulative))
    out.append(("+Inf", count))
    return out


def _cumulative_at(histogram: Sequence[tuple[float, float, int]], bound_ms: float) -> int | None:
    if not histogram or _at_or_below(bound_ms, histogram[0][0]):
        return 0
    cumulative = 0
    for low, high, bucket_count in histogram:
        if _at_or_below(high, bound_ms):
            cumulative += bucket_count
        elif not _at_or_below(bound_ms, low):
            return None  # strictly inside this bucket: not exact
        else:
            break
    return cumulative


def _at_or_below(value: float, limit: float) -> bool:
    return value <= limit or math.isclose(value, limit, rel_tol=_SAME_EDGE)


def batch_size_buckets(
    size_histogram: Sequence[tuple[int, int]], bounds: Sequence[int] = BATCH_SIZE_BOUNDS
) -> list[tuple[str, float]]:
    """Cumulative ``(le, count)`` pairs from ``((batch size, batches), ...)``."""
    out: list[tuple[str, float]] = [
        (floatToGoString(bound), sum(count for size, count in size_histogram if size <= bound)) for bound in bounds
    ]
    out.append(("+Inf", sum(count for _, count in size_histogram)))
    return out


def window_latency_summary(snapshot: MetricsSnapshot) -> Metric:
    """``clawlet_request_latency_window_seconds``: P50/P90/P99 over the monitor's window.

    A summary, as Prometheus's own clients make them: the quantiles cover a sliding window
    (the engine's, ``window_s``), ``_count`` and ``_sum`` the whole run.  These are the
    figures the dashboard shows; the quantiles are within 0.5% of the exact ones.
    """
    summary = Metric(
        "clawlet_request_latency_window_seconds",
        f"Latency of successful requests: quantiles over the last {snapshot.window_s:g} s, count and sum over the run.",
        "summary",
    )
    window, total = snapshot.window_latency, snapshot.total_latency
    if window.count:
        for quantile, attribute in WINDOW_QUANTILES:
            summary.add_sample(summary.name, {"quantile": quantile}, getattr(window, attribute) / 1000.0)
    summary.add_sample(summary.name + "_count", {}, total.count)
    summary.add_sample(summary.name + "_sum", {}, total.mean_ms * total.count / 1000.0)
    return summary


def config_labels(snapshot: MetricsSnapshot) -> dict[str, str]:
    """Every config field as a label value: booleans ``true``/``false``, None as ``""``."""
    labels = {}
    for f in dataclasses.fields(snapshot.config):
        value = getattr(snapshot.config, f.name)
        if isinstance(value, bool):
            labels[f.name] = "true" if value else "false"
        elif value is None:
            labels[f.name] = ""
        else:
            labels[f.name] = str(value)
    return labels


def _cache_families(snapshot: MetricsSnapshot) -> Iterator[Metric]:
    cache = snapshot.cache
    levels = (("l1", cache.l1), ("l2", cache.l2))
    requests = CounterMetricFamily(
        "clawlet_cache_requests_total", "Cache lookups by level and result.", labels=["level", "result"]
    )
    evictions = CounterMetricFamily("clawlet_cache_evictions_total", "Entries evicted, by level.", labels=["level"])
    expirations = CounterMetricFamily(
        "clawlet_cache_expirations_total", "Entries dropped when their TTL ran out, by level.", labels=["level"]
    )
    entries = GaugeMetricFamily("clawlet_cache_entries", "Entries held now, by level.", labels=["level"])
    for name, level in levels:
        requests.add_metric([name, "hit"], level.hits)
        requests.add_metric([name, "miss"], level.misses)
        evictions.add_metric([name], level.evictions)
        expirations.add_metric([name], level.expirations)
        entries.add_metric([name], level.size)
    yield from (requests, evictions, expirations, entries)
    yield GaugeMetricFamily("clawlet_cache_l2_bytes", "Bytes the L2 disk cache holds.", value=cache.l2.volume_bytes)
    yield CounterMetricFamily(
        "clawlet_cache_inflight_joins_total",
        "Requests that joined an identical request already being computed (single-flight).",
        value=cache.inflight_joins,
    )
    yield CounterMetricFamily(
        "clawlet_cache_l2_bypassed_total", "Misses that skipped L2 because its reads were backed up.",
        value=cache.l2_bypassed,
    )
    yield CounterMetricFamily(
        "clawlet_cache_l2_declined_total",
        "Computed values not written to L2 because their key was computed for the first time.",
        value=cache.l2_declined,
    )
