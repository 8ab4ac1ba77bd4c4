"""A run's timeline: one row per second, for the charts and tables of a report.

Why a separate record: the monitor keeps only the last ``history_s`` seconds (a ring, so
the dashboard's memory is bounded), while a report covers the whole run.  The
:class:`TimelineRecorder` copies each finished second out of the engine's own snapshots
as the run goes; it never counts anything itself:

* ``throughput_rps``, ``p50_ms``, ``p99_ms``, ``mean_ms``, ``mean_batch_size`` and
  ``errors`` are the monitor's :class:`~clawlet_tui.engine.snapshot.SeriesPoint` for that
  second, exactly (the monitor bins every request and batch by the second it ended in);
* ``queue_depth``, ``busy`` and ``rss_bytes`` are gauges: the value in the first snapshot
  that showed the second as finished (taken within one progress tick, 0.25 s, of its end);
* ``hit_rate`` is the share of cache lookups answered by L1 or L2 between that snapshot
  and the previous one (the difference of the cache's cumulative counters, as a
  Prometheus ``rate()`` would compute it); ``None`` when no lookup happened (cache off).

A second in which nothing ended (a stall) has no slot in the monitor; it is recorded as
the monitor's window counts it, zero throughput and no latency (0.0).  When a tick comes
late (the loop was busy for more than a second), the seconds it finds share its gauges
and hit rate.  The last, unfinished second of a run is not in the
timeline.  A run keeps one row per second it lasted: an hour is 3,600 small rows.

Times are the engine's uptime at the end of the second (``t_s``), the clock the
monitor's events and alerts use, so an alert's interval can be drawn on the same axis.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, fields

from .engine.snapshot import MetricsSnapshot, SeriesPoint

__all__ = ["TIMELINE_FIELDS", "AlertInterval", "Timeline", "TimelinePoint", "TimelineRecorder"]


@dataclass(frozen=True)
class AlertInterval:
    """An alert that fired during a run, on the timeline's clock (engine uptime, seconds).

    What the HTML report shades on its time charts; ``end_s`` is None for an alert still
    firing when the run ended.
    """

    name: str
    start_s: float
    end_s: float | None = None


@dataclass(frozen=True)
class TimelinePoint:
    """One second of a run (see the module docstring for where each figure comes from)."""

    #: engine uptime at the end of that second
    t_s: float
    #: requests that succeeded in that second
    throughput_rps: float
    p50_ms: float
    p99_ms: float
    mean_ms: float
    #: mean size of the batches that ran in that second (0.0 if none)
    mean_batch_size: float
    #: failed, rejected and timed-out requests in that second
    errors: int
    #: cache hits / lookups since the previous sample; None if there was no lookup
    hit_rate: float | None
    #: requests waiting in the batcher's queue
    queue_depth: int
    #: batches running on workers
    busy: int
    #: resident memory of the engine's process
    rss_bytes: int


#: column names, in order: the CSV header and the JSON keys
TIMELINE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(TimelinePoint))


@dataclass(frozen=True)
class Timeline:
    """A run's seconds, oldest first (immutable: a report can keep it)."""

    points: tuple[TimelinePoint, ...] = ()

    def __iter__(self) -> Iterator[TimelinePoint]:
        return iter(self.points)

    def __len__(self) -> int:
        return len(self.points)

    def column(self, name: str) -> tuple[float | int | None, ...]:
        """One field of every point, e.g. ``column("p99_ms")``."""
        if name not in TIMELINE_FIELDS:
            raise KeyError(f"no timeline field {name!r}; fields: {', '.join(TIMELINE_FIELDS)}")
        return tuple(getattr(p, name) for p in self.points)

    @classmethod
    def from_series(cls, snapshot: MetricsSnapshot) -> Timeline:
        """The seconds a single snapshot still holds (the dashboard's export: the monitor's
        last ``history_s`` seconds), with that snapshot's gauges and no per-second hit rate."""
        recorder = TimelineRecorder()
        recorder.observe(snapshot, hit_rate=False)
        return recorder.timeline()


class TimelineRecorder:
    """Collects a run's seconds from successive engine snapshots (see the module docstring).

    Feed it every snapshot the run takes (:meth:`observe`), in order; it keeps the seconds
    it has not seen yet.  A metrics reset (uptime or the cache's counters going back)
    starts the timeline again.
    """

    def __init__(self) -> None:
        self._points: list[TimelinePoint] = []
        self._last_t_s = 0.0
        self._hits = 0
        self._lookups = 0

    def _restart(self) -> None:
        self._points = []
        self._last_t_s = 0.0
        self._hits = self._lookups = 0

    def observe(self, snapshot: MetricsSnapshot, *, hit_rate: bool = True) -> int:
        """Record the finished seconds of ``snapshot`` not yet recorded; returns how many."""
        hits, lookups = _cache_counters(snapshot)
        if snapshot.uptime_s < self._last_t_s or lookups < self._lookups:
            self._restart()  # the engine's metrics were reset
        new = _with_empty_seconds([p for p in snapshot.series if p.t_s > self._last_t_s], self._last_t_s, snapshot)
        rate: float | None = None
        if hit_rate and lookups > self._lookups:
            rate = (hits - self._hits) / (lookups - self._lookups)
        if new:
            self._hits, self._lookups = hits, lookups
            self._last_t_s = new[-1].t_s
            self._points.extend(_point(p, snapshot, rate) for p in new)
        return len(new)

    def timeline(self) -> Timeline:
        return Timeline(tuple(self._points))


def _with_empty_seconds(points: list[SeriesPoint], after_t_s: float, snapshot: MetricsSnapshot) -> list[SeriesPoint]:
    """``points`` with the finished seconds the monitor has no slot for (nothing ended in
    them: a stall) put back as the zeros its window counts them as, so a chart shows the
    stall instead of drawing a line across it."""
    finished = max(points[-1].t_s if points else 0.0, float(math.floor(snapshot.uptime_s)))
    have = {p.t_s: p for p in points}
    filled = []
    t_s = after_t_s + 1.0
    while t_s <= finished:
        filled.append(have.get(t_s) or SeriesPoint(t_s, 0.0, 0.0, 0.0, 0.0, 0, 0.0))
        t_s += 1.0
    return filled


def _cache_counters(snapshot: MetricsSnapshot) -> tuple[int, int]:
    """Cumulative (hits, lookups) the way the cache computes its hit rate."""
    cache = snapshot.cache
    return cache.l1.hits + cache.l2.hits, cache.l1.hits + cache.l1.misses


def _point(p: SeriesPoint, snapshot: MetricsSnapshot, hit_rate: float | None) -> TimelinePoint:
    return TimelinePoint(
        t_s=p.t_s,
        throughput_rps=p.throughput_rps,
        p50_ms=p.p50_ms,
        p99_ms=p.p99_ms,
        mean_ms=p.mean_ms,
        mean_batch_size=p.mean_batch_size,
        errors=p.errors,
        hit_rate=hit_rate,
        queue_depth=snapshot.concurrency.queue_depth,
        busy=snapshot.concurrency.busy,
        rss_bytes=snapshot.memory.rss_bytes,
    )
