"""Immutable metric snapshots: what a dashboard or a report reads.

:meth:`ClawletEngine.snapshot` builds one :class:`MetricsSnapshot` from the monitor's
figures and each component's state (cache, batcher, concurrency, memory, pool); nothing
in it refers back to live engine objects, so a widget can hold it as long as it likes
and a run can be recorded (:func:`snapshot_to_dict`) and replayed (:func:`snapshot_from_dict`)
byte for byte.  Times are seconds, latencies milliseconds, sizes bytes, rates per second.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from .config import OptimizationConfig

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

_D = TypeVar("_D", bound="DataclassInstance")


@dataclass(frozen=True)
class LatencyStats:
    """Summary of a set of latencies in milliseconds (all 0.0 when ``count`` is 0)."""

    count: int = 0
    mean_ms: float = 0.0
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0


@dataclass(frozen=True)
class Outcomes:
    """Request accounting.  ``submitted == succeeded + failed + rejected + timed_out + cancelled + in_flight``."""

    submitted: int = 0
    succeeded: int = 0
    failed: int = 0
    rejected: int = 0
    timed_out: int = 0
    cancelled: int = 0
    #: failures and rejections by error class name, e.g. ``{"BackendError": 3}``
    errors_by_kind: tuple[tuple[str, int], ...] = ()
    #: the first message seen for each kind in ``errors_by_kind``, ``((kind, message), ...)``;
    #: a model's exception keeps its own text and the last traceback frame in the model's file
    first_errors: tuple[tuple[str, str], ...] = ()

    @property
    def finished(self) -> int:
        return self.succeeded + self.failed + self.rejected + self.timed_out + self.cancelled

    @property
    def in_flight(self) -> int:
        return self.submitted - self.finished

    @property
    def success_rate(self) -> float:
        """Succeeded / finished (1.0 before anything finished)."""
        return self.succeeded / self.finished if self.finished else 1.0


@dataclass(frozen=True)
class BatchStats:
    count: int = 0
    items: int = 0
    mean_size: float = 0.0
    #: ``((batch size, number of batches), ...)`` sorted by size
    size_histogram: tuple[tuple[int, int], ...] = ()
    #: batches per second over the monitor window
    window_batches_per_s: float = 0.0
    #: mean batch size over the monitor window
    window_mean_size: float = 0.0
    #: time from submission to the start of the request's model call
    queue_wait: LatencyStats = field(default_factory=LatencyStats)
    #: time of the model call itself, per batch
    compute: LatencyStats = field(default_factory=LatencyStats)
    #: batches re-run split in halves after a failure (poison isolation)
    splits: int = 0
    #: the batch policy in force ("adaptive", "eager" or "timeout"; see engine/batcher.py)
    policy: str = "adaptive"
    #: why batches left the queue, ``((reason, count), ...)`` in the order of
    #: :data:`~clawlet_tui.engine.batcher.DISPATCH_REASONS`: "full", "worker_free",
    #: "wait_expired", "predicted_gain"
    dispatch_reasons: tuple[tuple[str, int], ...] = ()
    #: fitted batch cost ``a + b*n``: fixed cost per batch and cost per item, in ms
    #: (None until enough batches of different sizes were measured)
    cost_a_ms: float | None = None
    cost_b_ms: float | None = None
    #: batches the cost model was fitted on (the last ones, bounded)
    cost_samples: int = 0
    #: requests rejected at once because they could not finish within ``request_timeout_s``
    shed: int = 0
    #: batches sent smaller than the queue allowed because a smaller size measured faster
    #: per item (see :meth:`~clawlet_tui.engine.cost_model.BatchCostModel.preferred_size`)
    trimmed: int = 0


@dataclass(frozen=True)
class CacheLevelStats:
    enabled: bool = False
    #: entries held now
    size: int = 0
    #: most entries (L1); 0 where the bound is in bytes (L2, see ``capacity_bytes``)
    capacity: int = 0
    hits: int = 0
    misses: int = 0
    evictions: int = 0
    expirations: int = 0
    #: bytes on disk (L2 only)
    volume_bytes: int = 0
    #: size limit in bytes (L2 only)
    capacity_bytes: int = 0

    @property
    def lookups(self) -> int:
        return self.hits + self.misses

    @property
    def hit_rate(self) -> float:
        return self.hits / self.lookups if self.lookups else 0.0


@dataclass(frozen=True)
class CacheStats:
    enabled: bool = False
    l1: CacheLevelStats = field(default_factory=CacheLevelStats)
    l2: CacheLevelStats = field(default_factory=CacheLevelStats)
    #: requests that joined an identical request already being computed (single-flight)
    inflight_joins: int = 0
    #: misses that skipped L2 because its reads were backed up (overload)
    l2_bypassed: int = 0
    #: computed values not written to L2: the first computation of their key
    #: (``l2_admission = "second_hit"``)
    l2_declined: int = 0
    #: requests answered from either level / requests that looked in the cache
    hit_rate: float = 0.0
    #: why L2 was switched off at run time, if it was
    l2_disabled_reason: str | None = None


@dataclass(frozen=True)
class MemoryStats:
    rss_bytes: int = 0
    budget_bytes: int = 0
    #: rss / budget: what ``max_memory_usage`` is compared against
    usage_fraction: float = 0.0
    threshold: float = 0.7
    system_percent: float = 0.0
    system_total_bytes: int = 0
    gc_triggers: int = 0
    manual_gc: int = 0
    #: RSS before minus after, summed over triggers (may be 0: freed memory is not always returned to the OS)
    freed_bytes_total: int = 0
    last_freed_bytes: int = 0
    objects_collected_total: int = 0
    l1_entries_dropped_total: int = 0


@dataclass(frozen=True)
class ConcurrencyStats:
    busy: int = 0
    max_concurrent: int = 0
    peak_busy: int = 0
    queue_depth: int = 0
    max_queue_size: int = 0
    completed_batches: int = 0


@dataclass(frozen=True)
class OpeningStats:
    """The first ``span_s`` seconds after start or a metrics reset: how a cold (or freshly
    warmed) cache serves the load's first minute.

    ``latency`` covers the requests that succeeded within the span; the cache figures are
    the counters as they stood when the first request after the span was submitted (a
    lookup is made at submission, so these are the lookups of the span's requests; an L2
    read still running at that moment is left out).  While the span runs, both cover
    ``elapsed_s`` so far.
    """

    #: the span's length (60 s: "the first minute")
    span_s: float = 60.0
    #: seconds of the span measured so far (``span_s`` once it is over; less for a shorter run)
    elapsed_s: float = 0.0
    latency: LatencyStats = field(default_factory=LatencyStats)
    #: cache lookups (L1) and hits (L1 or L2) within the span, counted as ``CacheStats.hit_rate`` does
    cache_lookups: int = 0
    cache_hits: int = 0

    @property
    def complete(self) -> bool:
        return self.elapsed_s >= self.span_s

    @property
    def hit_rate(self) -> float:
        return self.cache_hits / self.cache_lookups if self.cache_lookups else 0.0


@dataclass(frozen=True)
class PoolStats:
    size: int = 0
    in_use: int = 0
    idle: int = 0
    created: int = 0
    waits: int = 0
    #: sessions thrown away and replaced (e.g. a worker stuck in a hung model call)
    discarded: int = 0


@dataclass(frozen=True)
class BackendServerStats:
    """One model server behind a balanced remote backend (see ``clawlet_tui/remote/balancer.py``).

    ``batches`` counts every batch sent to the server, ``errors`` those that failed there,
    ``retried`` those of the failed ones that were sent again to another server.
    """

    url: str = ""
    #: batches on the wire to this server now / at most (the per-server in-flight bound)
    in_flight: int = 0
    limit: int = 0
    batches: int = 0
    errors: int = 0
    retried: int = 0
    #: out of the rotation now (failed its readiness check, or too many errors in a row)
    ejected: bool = False
    #: times it was taken out of the rotation
    ejections: int = 0


@dataclass(frozen=True)
class EngineEvent:
    """One line of the event log: config changes, GC runs, bursts, errors, warnings."""

    seq: int
    #: engine uptime (seconds since start or the last metrics reset) when it happened
    time_s: float
    kind: str
    message: str


@dataclass(frozen=True)
class SeriesPoint:
    """One second of history, for charts."""

    #: engine uptime at the end of that second
    t_s: float
    throughput_rps: float
    p50_ms: float
    p99_ms: float
    mean_ms: float
    errors: int
    mean_batch_size: float


@dataclass(frozen=True)
class MetricsSnapshot:
    #: engine clock (monotonic seconds) when the snapshot was taken
    time_s: float = 0.0
    uptime_s: float = 0.0
    running: bool = False
    mode: str = "optimized"
    model_name: str = ""
    config: OptimizationConfig = field(default_factory=OptimizationConfig)
    outcomes: Outcomes = field(default_factory=Outcomes)
    window_s: float = 10.0
    #: completed requests per second over the window / over the whole run
    window_throughput_rps: float = 0.0
    total_throughput_rps: float = 0.0
    #: failed, rejected and timed-out requests per second over the window
    window_error_rps: float = 0.0
    window_latency: LatencyStats = field(default_factory=LatencyStats)
    #: the window's latency distribution on log-spaced buckets, ``((low_ms, high_ms, count), ...)``
    #: for the non-empty range (empty buckets between the first and last are kept)
    window_latency_histogram: tuple[tuple[float, float, int], ...] = ()
    total_latency: LatencyStats = field(default_factory=LatencyStats)
    #: the whole run's latency distribution (since start or the last reset), on the same
    #: buckets as ``window_latency_histogram``; the counts below every edge are exact
    total_latency_histogram: tuple[tuple[float, float, int], ...] = ()
    batches: BatchStats = field(default_factory=BatchStats)
    cache: CacheStats = field(default_factory=CacheStats)
    memory: MemoryStats = field(default_factory=MemoryStats)
    concurrency: ConcurrencyStats = field(default_factory=ConcurrencyStats)
    pool: PoolStats = field(default_factory=PoolStats)
    #: one row per model server when batches are spread over several (empty otherwise)
    backends: tuple[BackendServerStats, ...] = ()
    #: last seconds of history, oldest first
    series: tuple[SeriesPoint, ...] = ()
    #: the first minute after start or the last reset (P99 and cache hit rate)
    opening: OpeningStats = field(default_factory=OpeningStats)
    #: most recent events, oldest first (``seq`` increases; a reader keeps the last seq it saw)
    events: tuple[EngineEvent, ...] = ()


def snapshot_to_dict(snapshot: MetricsSnapshot) -> dict[str, Any]:
    """A JSON-ready dict of the snapshot (tuples become lists)."""
    return dataclasses.asdict(snapshot)


def snapshot_from_dict(data: dict[str, Any]) -> MetricsSnapshot:
    """Inverse of :func:`snapshot_to_dict`, for replaying a recorded metric stream."""
    return _build(MetricsSnapshot, data)


def _build(cls: type[_D], data: Any) -> _D:
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            kwargs[f.name] = _convert(hints[f.name], data[f.name])
    return cls(**kwargs)


def _convert(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _build(hint, value)
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v) for v in value)
        return tuple(_convert(a, v) for a, v in zip(args, value))
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(hint):
            if arg is not type(None):
                return _convert(arg, value)
    return value
