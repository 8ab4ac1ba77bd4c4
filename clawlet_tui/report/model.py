"""The report as plain data: sections of rows, computed from measured run results.

Nothing here formats text or knows a language.  Every row carries a stable metric key
(used by the JSON and CSV formats and looked up in :mod:`.labels` for display), a value
in the unit it names, and the unit.  Units are machine units: ``req/s``, ``ms``, ``s``,
``%`` (0-100), ``B`` (bytes), ``entries``, ``batches``, ``requests``; renderers decide
how to show them.  Every figure comes from the run's :class:`MetricsSnapshot`, its
``LoadStats`` or the machine facts; nothing is filled in by hand.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from ..engine.alerts import AlertEvent, AlertRule
from ..engine.snapshot import MetricsSnapshot
from ..runner import RunResult
from ..timeline import AlertInterval, Timeline

#: histogram values are ``((bucket, count), ...)``
Histogram = tuple[tuple[int, int], ...]
Value = int | float | str | bool | None | Histogram

#: component sections in the order the seed lists them (then pool and outcomes)
COMPONENT_SECTIONS = ("batcher", "cache", "memory", "concurrency", "pool", "monitor", "outcomes")
#: every section of one run's report, in display order
RUN_SECTIONS = ("summary", "warmup", *COMPONENT_SECTIONS, "configuration", "engine_config")
#: why a batch left the queue, in the engine's order (see ``BatchStats.dispatch_reasons``);
#: each is a batcher row ``dispatch_<reason>``, present (0) even before the engine counts it
DISPATCH_REASONS = ("full", "worker_free", "wait_expired", "predicted_gain")
#: batcher rows that say how batching decided, shown side by side by ``compare``
POLICY_KEYS = ("batch_policy", *(f"dispatch_{r}" for r in DISPATCH_REASONS), "dispatch_other", "cost_a", "cost_b", "shed", "trimmed")


@dataclass(frozen=True)
class Row:
    key: str
    value: Value
    unit: str = ""
    #: fills the ``{}`` in the row's label, e.g. an error class name
    arg: str | None = None

    @property
    def metric(self) -> str:
        """Stable id for scripts: ``key`` or ``key.arg``."""
        return self.key if self.arg is None else f"{self.key}.{self.arg}"


@dataclass(frozen=True)
class Section:
    key: str
    rows: tuple[Row, ...]

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)

    def get(self, metric: str) -> Row:
        for row in self.rows:
            if row.metric == metric:
                return row
        raise KeyError(f"no metric {metric!r} in section {self.key!r}")

    def value(self, metric: str) -> Value:
        return self.get(metric).value


@dataclass(frozen=True)
class RunReport:
    """All sections of one run (one mode)."""

    preset: str
    mode: str
    interrupted: bool
    sections: tuple[Section, ...]
    #: one row per second of the run (JSON ``timeline``, CSV ``-timeline.csv``, HTML charts)
    timeline: Timeline = Timeline()
    #: the preset's p99 objective in ms, if it has one (the line on the latency chart)
    slo_p99_ms: float | None = None
    #: alerts that fired, shaded on the HTML report's time charts (from ``alerts``)
    alert_intervals: tuple[AlertInterval, ...] = ()
    #: the alert rules judged during the run, and every alert that fired (with its times)
    alert_rules: tuple[AlertRule, ...] = ()
    alerts: tuple[AlertEvent, ...] = ()

    def section(self, key: str) -> Section:
        for section in self.sections:
            if section.key == key:
                return section
        raise KeyError(f"no section {key!r}")


ChangeKind = Literal["ratio", "percent", "points"]


@dataclass(frozen=True)
class ComparisonRow:
    """One line of the before/after table."""

    key: str
    unit: str
    before: float
    after: float
    #: how the change is expressed: ``ratio`` (``12.8x``), ``percent`` (``-92%``), ``points`` (``+5.0 pp``)
    kind: ChangeKind

    @property
    def ratio(self) -> float | None:
        """after / before, or None when before is 0."""
        return self.after / self.before if self.before else None

    @property
    def change(self) -> str:
        if self.kind == "points":
            return f"{self.after - self.before:+.1f} pp"
        if not self.before:
            return "n/a" if self.after else "-"
        if self.kind == "percent":
            return f"{(self.after - self.before) / self.before * 100:+.0f}%"
        ratio = self.after / self.before
        return f"{ratio:.1f}x" if ratio >= 10 else f"{ratio:.2f}x"


@dataclass(frozen=True)
class Report:
    """A whole report: one run, or a comparison of two (``runs[0]`` baseline, ``runs[1]`` optimized)."""

    kind: Literal["run", "compare"]
    runs: tuple[RunReport, ...]
    comparison: tuple[ComparisonRow, ...] = ()

    @property
    def interrupted(self) -> bool:
        return any(run.interrupted for run in self.runs)


# -- building ------------------------------------------------------------------------------


def build_run_report(result: RunResult) -> Report:
    return Report(kind="run", runs=(run_report(result),))


def build_compare_report(baseline: RunResult, optimized: RunResult) -> Report:
    return Report(
        kind="compare",
        runs=(run_report(baseline), run_report(optimized)),
        comparison=comparison_rows(baseline.snapshot, optimized.snapshot),
    )


def run_report(result: RunResult) -> RunReport:
    s = result.snapshot
    alerts = (Row("alerts_fired", len(result.alerts), "alerts"),) if result.alert_rules else ()
    sections = (
        Section("summary", summary_rows(s, result.slo_p99_ms) + alerts),
        Section("warmup", warmup_rows(result)),
        Section("batcher", batcher_rows(s)),
        Section("cache", cache_rows(s)),
        Section("memory", memory_rows(s)),
        Section("concurrency", concurrency_rows(s)),
        Section("pool", pool_rows(s)),
        Section("monitor", monitor_rows(s)),
        Section("outcomes", outcome_rows(s)),
        Section("configuration", configuration_rows(result)),
        Section("engine_config", engine_config_rows(s)),
    )
    return RunReport(
        preset=result.preset, mode=result.mode, interrupted=result.interrupted, sections=sections,
        timeline=result.timeline, slo_p99_ms=result.slo_p99_ms,
        alert_rules=result.alert_rules, alerts=result.alerts,
        alert_intervals=tuple(
            AlertInterval(event.rule.describe(), event.fired_at_s, event.resolved_at_s) for event in result.alerts
        ),
    )


def _pct(fraction: float) -> float:
    return fraction * 100.0


def summary_rows(s: MetricsSnapshot, slo_p99_ms: float | None = None) -> tuple[Row, ...]:
    """The seed's "test figures" table (plus the preset's p99 objective, if it has one)."""
    slo: tuple[Row, ...] = ()
    if slo_p99_ms is not None:
        slo = (Row("slo_p99", slo_p99_ms, "ms"), Row("slo_met", s.total_latency.p99_ms <= slo_p99_ms))
    return (
        Row("throughput", s.total_throughput_rps, "req/s"),
        Row("success_rate", _pct(s.outcomes.success_rate), "%"),
        Row("mean_latency", s.total_latency.mean_ms, "ms"),
        Row("p50_latency", s.total_latency.p50_ms, "ms"),
        Row("p99_latency", s.total_latency.p99_ms, "ms"),
        *slo,
        Row("batches", s.batches.count, "batches"),
        Row("mean_batch_size", s.batches.mean_size, "requests"),
        Row("cache_size", s.cache.l1.size, "entries"),
        Row("memory_rss", s.memory.rss_bytes, "B"),
        Row("memory_usage", _pct(s.memory.usage_fraction), "%"),
        Row("system_memory", s.memory.system_percent, "%"),
    )


def warmup_rows(result: RunResult) -> tuple[Row, ...]:
    """Cold or warm, the warm-up's own counts, and the load's first minute.

    "Cold vs warm" is what a run *is*, not a figure it derives: a run whose load started
    after a warm-up is ``warm``, any other ``cold``; its first-minute hit rate and P99 are
    measured from the load's start (the warm-up's requests are counted only here).  Two
    runs of the same config, one of each, compare cold with warm (``compare --warm``:
    the baseline, which has no cache, cold; the optimized side warm).
    """
    s = result.snapshot
    warm = result.warmup
    opening = s.opening
    return (
        Row("cache_at_start", "warm" if warm is not None else "cold"),
        Row("warmup_keys", warm.keys if warm is not None else 0, "requests"),
        Row("warmup_succeeded", warm.succeeded if warm is not None else 0, "requests"),
        Row("warmup_failed", warm.failed_total if warm is not None else 0, "requests"),
        Row("warmup_duration", warm.duration_s if warm is not None else 0.0, "s"),
        Row("first_minute_measured", opening.elapsed_s, "s"),
        Row("first_minute_requests", opening.latency.count, "requests"),
        Row("first_minute_hit_rate", _pct(opening.hit_rate), "%"),
        Row("first_minute_p99", opening.latency.p99_ms, "ms"),
    )


def batcher_rows(s: MetricsSnapshot) -> tuple[Row, ...]:
    b = s.batches
    return (
        Row("batching_enabled", s.config.enable_batching),
        Row("batch_size_limit", s.config.effective_batch_size, "requests"),
        Row("batch_timeout", s.config.batch_timeout_s * 1000.0, "ms"),
        Row("batches", b.count, "batches"),
        Row("batched_requests", b.items, "requests"),
        Row("mean_batch_size", b.mean_size, "requests"),
        Row("size_histogram", tuple(b.size_histogram), "batches"),
        Row("queue_wait_p50", b.queue_wait.p50_ms, "ms"),
        Row("queue_wait_p99", b.queue_wait.p99_ms, "ms"),
        Row("compute_mean", b.compute.mean_ms, "ms"),
        Row("compute_p50", b.compute.p50_ms, "ms"),
        Row("compute_p99", b.compute.p99_ms, "ms"),
        Row("batch_splits", b.splits, "batches"),
        *policy_rows(s),
    )


def policy_rows(s: MetricsSnapshot) -> tuple[Row, ...]:
    """The batch policy, why batches left (one row per reason), the fitted cost, the shed count.

    The fitted cost ``a + b*n`` is None (shown as "none") until the engine has fitted it.
    A reason the engine adds later is kept, as ``dispatch_other`` with the reason as arg.
    """
    b = s.batches
    counts = dict(b.dispatch_reasons)
    rows = [Row("batch_policy", b.policy)]
    rows += [Row(f"dispatch_{reason}", counts.pop(reason, 0), "batches") for reason in DISPATCH_REASONS]
    rows += [Row("dispatch_other", count, "batches", arg=reason) for reason, count in counts.items()]
    rows += [
        Row("cost_a", b.cost_a_ms, "ms"),
        Row("cost_b", b.cost_b_ms, "ms"),
        Row("cost_samples", b.cost_samples, "batches"),
        Row("shed", b.shed, "requests"),
        Row("trimmed", b.trimmed, "batches"),
    ]
    return tuple(rows)


def cache_rows(s: MetricsSnapshot) -> tuple[Row, ...]:
    c = s.cache
    rows = [
        Row("cache_enabled", c.enabled),
        Row("cache_hit_rate", _pct(c.hit_rate), "%"),
        Row("inflight_joins", c.inflight_joins, "requests"),
        Row("l1_size", c.l1.size, "entries"),
        Row("l1_capacity", c.l1.capacity, "entries"),
        Row("l1_hits", c.l1.hits, "requests"),
        Row("l1_misses", c.l1.misses, "requests"),
        Row("l1_hit_rate", _pct(c.l1.hit_rate), "%"),
        Row("l1_evictions", c.l1.evictions, "entries"),
        Row("l1_expirations", c.l1.expirations, "entries"),
        Row("l2_enabled", c.l2.enabled),
        Row("l2_size", c.l2.size, "entries"),
        Row("l2_hits", c.l2.hits, "requests"),
        Row("l2_misses", c.l2.misses, "requests"),
        Row("l2_hit_rate", _pct(c.l2.hit_rate), "%"),
        Row("l2_volume", c.l2.volume_bytes, "B"),
        Row("l2_size_limit", c.l2.capacity_bytes, "B"),
        Row("l2_bypassed", c.l2_bypassed, "requests"),
        Row("l2_declined", c.l2_declined, "values"),
    ]
    if c.l2_disabled_reason:
        rows.append(Row("l2_disabled_reason", c.l2_disabled_reason))
    return tuple(rows)


def memory_rows(s: MetricsSnapshot) -> tuple[Row, ...]:
    m = s.memory
    return (
        Row("memory_rss", m.rss_bytes, "B"),
        Row("memory_budget", m.budget_bytes, "B"),
        Row("memory_usage", _pct(m.usage_fraction), "%"),
        Row("memory_threshold", _pct(m.threshold), "%"),
        Row("system_memory", m.system_percent, "%"),
        Row("system_memory_total", m.system_total_bytes, "B"),
        Row("gc_triggers", m.gc_triggers, "times"),
        Row("manual_gc", m.manual_gc, "times"),
        Row("memory_freed", m.freed_bytes_total, "B"),
        Row("objects_collected", m.objects_collected_total, "objects"),
        Row("l1_entries_dropped", m.l1_entries_dropped_total, "entries"),
    )


def concurrency_rows(s: MetricsSnapshot) -> tuple[Row, ...]:
    c = s.concurrency
    return (
        Row("max_concurrent", c.max_concurrent, "batches"),
        Row("peak_busy", c.peak_busy, "batches"),
        Row("busy", c.busy, "batches"),
        Row("completed_batches", c.completed_batches, "batches"),
        Row("queue_depth", c.queue_depth, "requests"),
        Row("max_queue_size", c.max_queue_size, "requests"),
        *backend_rows(s),
    )


#: the rows of each model server (``arg``: its URL), in this order; markdown shows them
#: as one table line per server
BACKEND_KEYS = (
    "backend_batches", "backend_errors", "backend_retried", "backend_in_flight", "backend_ejected", "backend_ejections"
)


def backend_rows(s: MetricsSnapshot) -> tuple[Row, ...]:
    """Per model server, when batches were spread over several (``arg`` is the server's URL)."""
    rows: list[Row] = []
    for b in s.backends:
        values = (b.batches, b.errors, b.retried, b.in_flight, b.ejected, b.ejections)
        units = ("batches", "batches", "batches", "batches", "", "times")
        rows += [Row(key, value, unit, arg=b.url) for key, value, unit in zip(BACKEND_KEYS, values, units)]
    return tuple(rows)


def pool_rows(s: MetricsSnapshot) -> tuple[Row, ...]:
    p = s.pool
    return (
        Row("pool_size", p.size, "sessions"),
        Row("pool_in_use", p.in_use, "sessions"),
        Row("pool_created", p.created, "sessions"),
        Row("pool_waits", p.waits, "times"),
        Row("pool_discarded", p.discarded, "sessions"),
    )


def monitor_rows(s: MetricsSnapshot) -> tuple[Row, ...]:
    return (
        Row("window", s.window_s, "s"),
        Row("window_throughput", s.window_throughput_rps, "req/s"),
        Row("throughput", s.total_throughput_rps, "req/s"),
        Row("success_rate", _pct(s.outcomes.success_rate), "%"),
        Row("mean_latency", s.total_latency.mean_ms, "ms"),
        Row("p50_latency", s.total_latency.p50_ms, "ms"),
        Row("p90_latency", s.total_latency.p90_ms, "ms"),
        Row("p99_latency", s.total_latency.p99_ms, "ms"),
        Row("max_latency", s.total_latency.max_ms, "ms"),
        Row("window_p50_latency", s.window_latency.p50_ms, "ms"),
        Row("window_p99_latency", s.window_latency.p99_ms, "ms"),
        Row("uptime", s.uptime_s, "s"),
    )


def outcome_rows(s: MetricsSnapshot) -> tuple[Row, ...]:
    o = s.outcomes
    rows = [
        Row("submitted", o.submitted, "requests"),
        Row("succeeded", o.succeeded, "requests"),
        Row("failed", o.failed, "requests"),
        Row("rejected", o.rejected, "requests"),
        Row("timed_out", o.timed_out, "requests"),
        Row("cancelled", o.cancelled, "requests"),
        Row("in_flight", o.in_flight, "requests"),
    ]
    rows.extend(Row("errors_by_kind", count, "requests", arg=kind) for kind, count in o.errors_by_kind)
    # the message of each kind's first occurrence: what the user needs to fix a failing model
    rows.extend(Row("first_error", " ".join(message.split()), arg=kind) for kind, message in o.first_errors)
    return tuple(rows)


def configuration_rows(result: RunResult) -> tuple[Row, ...]:
    stats = result.load_stats
    machine = result.machine
    requests = _stat(stats, "sent", result.snapshot.outcomes.submitted)
    duration = _stat(stats, "elapsed_s", result.snapshot.uptime_s)
    rows = [
        Row("preset", result.preset),
        Row("mode", result.mode),
        Row("requests", requests, "requests"),
        Row("achieved_rate", _stat(stats, "achieved_rps", None), "req/s"),
        Row("dropped_by_generator", _stat(stats, "dropped_by_generator", 0), "requests"),
        Row("load_shape", result.load_description),
        Row("duration", duration, "s"),
        Row("started_at", result.started_at),
        Row("finished_at", result.finished_at),
        Row("interrupted", result.interrupted),
    ]
    if result.interrupted:
        rows.append(Row("in_flight_at_interrupt", result.in_flight_at_interrupt, "requests"))
        if result.interrupt_signal:
            rows.append(Row("interrupt_signal", result.interrupt_signal))
    rows += [
        Row("cpu", machine.cpu_model),
        Row("cores", machine.cores),
        Row("machine_memory", machine.memory_total_bytes, "B"),
        Row("python", machine.python_version),
        Row("numpy", machine.numpy_version),
        Row("platform", machine.platform),
        Row("model", result.model_description or result.snapshot.model_name),
    ]
    return tuple(rows)


def engine_config_rows(s: MetricsSnapshot) -> tuple[Row, ...]:
    """One row per config field; the metric key is the field name (shown as is in every language)."""
    return tuple(
        Row("config", getattr(s.config, f.name), _CONFIG_UNITS.get(f.name, ""), arg=f.name)
        for f in dataclasses.fields(s.config)
    )


_CONFIG_UNITS = {
    "batch_timeout_s": "s",
    "cache_ttl_s": "s",
    "memory_check_interval_s": "s",
    "request_timeout_s": "s",
    "memory_budget_bytes": "B",
    "l2_size_limit_bytes": "B",
}


def comparison_rows(before: MetricsSnapshot, after: MetricsSnapshot) -> tuple[ComparisonRow, ...]:
    """The seed's before/after table, from two measured snapshots."""

    def both(fn: Any) -> tuple[float, float]:
        return fn(before), fn(after)

    spec: tuple[tuple[str, str, ChangeKind, Any], ...] = (
        ("throughput", "req/s", "ratio", lambda s: s.total_throughput_rps),
        ("mean_latency", "ms", "percent", lambda s: s.total_latency.mean_ms),
        ("p50_latency", "ms", "percent", lambda s: s.total_latency.p50_ms),
        ("p99_latency", "ms", "percent", lambda s: s.total_latency.p99_ms),
        ("success_rate", "%", "points", lambda s: _pct(s.outcomes.success_rate)),
        ("max_concurrent", "batches", "ratio", lambda s: s.concurrency.max_concurrent),
        ("peak_busy", "batches", "ratio", lambda s: s.concurrency.peak_busy),
        ("cache_hit_rate", "%", "points", lambda s: _pct(s.cache.hit_rate)),
        ("first_minute_hit_rate", "%", "points", lambda s: _pct(s.opening.hit_rate)),
        ("first_minute_p99", "ms", "percent", lambda s: s.opening.latency.p99_ms),
        ("mean_batch_size", "requests", "ratio", lambda s: s.batches.mean_size),
    )
    return tuple(ComparisonRow(key, unit, *both(fn), kind=kind) for key, unit, kind, fn in spec)


def _stat(stats: Any, name: str, default: Any) -> Any:
    value = getattr(stats, name, None) if stats is not None else None
    return default if value is None else value
