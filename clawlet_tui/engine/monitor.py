"""PerformanceMonitor: outcome counters, latency percentiles and per-second history.

Memory is bounded whatever the run length: latencies go into fixed log-scale
histograms (:class:`~.histogram.LogHistogram`, 1% wide buckets from 1 µs to 1000 s, so any
percentile is within 0.5% of the exact value computed the way ``numpy.percentile``
does), and the history is a ring of ``history_s`` one-second slots.  Mean, count and
max are exact.  The window figures (``window_s``, default 10 s) are computed from the
slots that overlap the window, so they cover whole seconds plus the current one.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from .histogram import DISPLAY_BUCKETS_PER_DECADE, LogHistogram
from .snapshot import BatchStats, LatencyStats, Outcomes, SeriesPoint

__all__ = ["DISPLAY_BUCKETS_PER_DECADE", "LogHistogram", "PerformanceMonitor", "WindowStats"]


@dataclass(frozen=True)
class WindowStats:
    """The monitor's figures over its window (``window_s``): what the dashboard's panels show."""

    throughput_rps: float
    latency: LatencyStats
    #: failed, rejected and timed-out requests per second (what the window's error rate is
    #: computed from, with ``throughput_rps``: both are counts over the same span)
    errors_per_s: float
    batches_per_s: float
    #: mean size of the batches that ran in the window (0.0 if none)
    mean_batch_size: float
    #: latency distribution on coarse log-spaced buckets (see :meth:`LogHistogram.display_buckets`)
    latency_histogram: tuple[tuple[float, float, int], ...]


class _Second:
    """Everything that happened in one second of the run."""

    __slots__ = ("index", "completed", "errors", "latency", "batches", "batch_items", "point")

    def __init__(self, index: int, total_latency: LogHistogram) -> None:
        self.index = index
        self.completed = 0
        self.errors = 0
        #: feeds the whole-run histogram as it bins
        self.latency = LogHistogram(parent=total_latency)
        self.batches = 0
        self.batch_items = 0
        self.point: SeriesPoint | None = None


class PerformanceMonitor:
    """Counts every request outcome and times every successful one.

    Latency is from the request's start time (its intended send time when the load
    generator gives one) to its outcome.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        *,
        window_s: float = 10.0,
        history_s: int = 120,
        opening_s: float = 60.0,
    ) -> None:
        self._clock = clock
        self.window_s = window_s
        self.history_s = history_s
        #: the opening span: latencies of successes in the first ``opening_s`` seconds after
        #: start or a reset go to :attr:`opening_latency` too (cold vs warm first minute)
        self.opening_s = opening_s
        self.reset()

    def reset(self, *, keep_in_flight: bool = False) -> None:
        """Start afresh; with ``keep_in_flight`` the requests in flight stay counted as
        submitted, so each still ends in exactly one counted outcome."""
        in_flight = self.outcomes().in_flight if keep_in_flight else 0
        self.started_at = self._clock()
        self.submitted = in_flight
        self.succeeded = 0
        self.failed = 0
        self.rejected = 0
        self.timed_out = 0
        self.cancelled = 0
        self.errors_by_kind: Counter[str] = Counter()
        #: first message seen per error kind (bounded: one per kind)
        self.first_errors: dict[str, str] = {}
        self._latency = LogHistogram()
        self.opening_latency = LogHistogram()
        self.queue_wait = LogHistogram()
        self.compute = LogHistogram()
        self.batch_sizes: Counter[int] = Counter()
        self.batch_splits = 0
        self._seconds: list[_Second | None] = [None] * self.history_s

    # -- recording ----------------------------------------------------------------------

    def _slot(self, now: float) -> _Second:
        index = int(now - self.started_at)
        position = index % self.history_s
        slot = self._seconds[position]
        if slot is None or slot.index != index:
            if slot is not None:
                slot.latency.flush()  # what it still holds goes into the whole-run histogram
            slot = _Second(index, self._latency)
            self._seconds[position] = slot
        return slot

    @property
    def latency(self) -> LogHistogram:
        """Latency of every successful request of the run (ms)."""
        for slot in self._seconds:
            if slot is not None:
                slot.latency.flush()  # which also feeds the whole-run histogram
        return self._latency

    def record_submitted(self) -> None:
        self.submitted += 1

    def record_success(self, latency_s: float, now: float | None = None) -> None:
        """One successful request; ``now`` (the monitor's clock) if the caller just read it."""
        if now is None:
            now = self._clock()
        self.succeeded += 1
        slot = self._slot(now)
        slot.completed += 1
        slot.latency.record(latency_s * 1000.0)
        if now - self.started_at < self.opening_s:
            self.opening_latency.record(latency_s * 1000.0)

    def record_failure(self, kind: str, message: str | None = None) -> bool:
        """One failed request; True if it is the first of its kind (its message is kept)."""
        self.failed += 1
        self._error(kind)
        return self._first(kind, message)

    def record_rejected(self, kind: str = "RejectedError", message: str | None = None) -> bool:
        """One rejected request; True if it is the first of its kind (its message is kept)."""
        self.rejected += 1
        self._error(kind)
        return self._first(kind, message)

    def _first(self, kind: str, message: str | None) -> bool:
        if kind in self.first_errors or message is None:
            return False
        self.first_errors[kind] = message
        return True

    def record_timeout(self) -> None:
        self.timed_out += 1
        self._error("RequestTimeout")

    def record_cancelled(self) -> None:
        self.cancelled += 1

    def _error(self, kind: str) -> None:
        self.errors_by_kind[kind] += 1
        self._slot(self._clock()).errors += 1

    def record_batch(self, size: int, queue_waits_s: list[float], compute_s: float) -> None:
        self.batch_sizes[size] += 1
        self.queue_wait.record_many([wait * 1000.0 for wait in queue_waits_s])
        self.compute.record(compute_s * 1000.0)
        slot = self._slot(self._clock())
        slot.batches += 1
        slot.batch_items += size

    def record_split(self) -> None:
        self.batch_splits += 1

    # -- reading ------------------------------------------------------------------------

    def outcomes(self) -> Outcomes:
        return Outcomes(
            submitted=self.submitted,
            succeeded=self.succeeded,
            failed=self.failed,
            rejected=self.rejected,
            timed_out=self.timed_out,
            cancelled=self.cancelled,
            errors_by_kind=tuple(sorted(self.errors_by_kind.items())),
            first_errors=tuple(sorted(self.first_errors.items())),
        )

    def in_opening(self, now: float) -> bool:
        """``now`` (the monitor's clock) is within the opening span."""
        return now - self.started_at < self.opening_s

    def uptime(self) -> float:
        return max(self._clock() - self.started_at, 0.0)

    def _window_slots(self, now: float) -> tuple[list[_Second], float]:
        """Slots overlapping the last ``window_s`` seconds, and the span they cover."""
        current = int(now - self.started_at)
        whole = max(int(self.window_s) - 1, 0)
        first = max(current - whole, 0)
        slots = [
            s
            for s in self._seconds
            if s is not None and first <= s.index <= current
        ]
        span = (now - self.started_at) - first
        return slots, max(span, 1e-9)

    def window(self) -> WindowStats:
        """Throughput, latency and batching over the last ``window_s`` seconds."""
        now = self._clock()
        slots, span = self._window_slots(now)
        merged = LogHistogram()
        completed = errors = batches = items = 0
        for slot in slots:
            merged.merge(slot.latency)
            completed += slot.completed
            errors += slot.errors
            batches += slot.batches
            items += slot.batch_items
        return WindowStats(
            throughput_rps=completed / span,
            latency=merged.stats(),
            errors_per_s=errors / span,
            batches_per_s=batches / span,
            mean_batch_size=items / batches if batches else 0.0,
            latency_histogram=merged.display_buckets(),
        )

    def total_throughput(self) -> float:
        uptime = self.uptime()
        return self.succeeded / uptime if uptime > 0 else 0.0

    def series(self) -> tuple[SeriesPoint, ...]:
        """One point per finished second still in the ring, oldest first."""
        current = int(self._clock() - self.started_at)
        points = []
        recent = (s for s in self._seconds if s is not None and current - self.history_s <= s.index < current)
        for slot in sorted(recent, key=lambda s: s.index):
            if slot.point is None:  # finished seconds never change: compute once
                p50, p99 = slot.latency.percentiles((50.0, 99.0))
                slot.point = SeriesPoint(
                    t_s=float(slot.index + 1),
                    throughput_rps=float(slot.completed),
                    p50_ms=p50,
                    p99_ms=p99,
                    mean_ms=slot.latency.mean,
                    errors=slot.errors,
                    mean_batch_size=slot.batch_items / slot.batches if slot.batches else 0.0,
                )
            points.append(slot.point)
        return tuple(points)

    def batch_stats(self, window: WindowStats | None = None) -> BatchStats:
        count = sum(self.batch_sizes.values())
        items = sum(size * n for size, n in self.batch_sizes.items())
        window = window if window is not None else self.window()
        batches_per_s, window_mean = window.batches_per_s, window.mean_batch_size
        return BatchStats(
            count=count,
            items=items,
            mean_size=items / count if count else 0.0,
            size_histogram=tuple(sorted(self.batch_sizes.items())),
            window_batches_per_s=batches_per_s,
            window_mean_size=window_mean,
            queue_wait=self.queue_wait.stats(),
            compute=self.compute.stats(),
            splits=self.batch_splits,
        )
