"""LogHistogram: bounded, mergeable latency histograms with ~1% relative resolution.

Fixed log-scale buckets, 1% wide, from 1 µs to 1000 s (values in milliseconds): memory
is the same whatever the run length, and any percentile is within 0.5% of the exact
value computed the way ``numpy.percentile`` does.  Count, mean, min and max are exact.
Recording is an append to a short list; values are binned in bulk (numpy) before any
read and whenever 4096 are waiting.
"""

from __future__ import annotations

import math

import numpy as np

from .snapshot import LatencyStats

_MIN_MS = 0.001
#: the coarse buckets a histogram is shown in: log-spaced, this many per decade
DISPLAY_BUCKETS_PER_DECADE = 8
#: DISPLAY_BUCKETS_PER_DECADE whole fine buckets make one display bucket, so every display
#: edge (10^(k/8) µs) is a real bucket edge: counts "at or below" such an edge are exact
#: (what a Prometheus histogram's ``le`` promises), not estimated
_FINE_PER_DISPLAY = 29
_GROWTH = 10.0 ** (1.0 / (DISPLAY_BUCKETS_PER_DECADE * _FINE_PER_DISPLAY))  # ~1.0100: 1% wide buckets
_LOG_GROWTH = math.log(_GROWTH)
_BUCKETS = int(math.ceil(math.log(1_000_000.0 / _MIN_MS) / _LOG_GROWTH)) + 1
# representative value of each bucket: its geometric centre
_CENTRES = _MIN_MS * np.power(_GROWTH, np.arange(_BUCKETS) + 0.5)
_PENDING_LIMIT = 4096
_DISPLAY_INDEX = np.arange(_BUCKETS) // _FINE_PER_DISPLAY


class LogHistogram:
    """Fixed-size histogram of positive values (milliseconds) with ~1% relative resolution.

    ``record`` is on the hot path of every request, so it only appends to a short list;
    the values are binned, counted and summed in bulk (numpy) before any read and
    whenever 4096 are waiting.  A histogram made with a ``parent`` passes everything it
    bins on to the parent as well (the per-second histograms feed the whole-run one),
    so a value is recorded once however many views of it are kept.
    """

    __slots__ = ("_counts", "_pending", "_count", "_total", "_min", "_max", "_parent")

    def __init__(self, parent: LogHistogram | None = None) -> None:
        self._counts = np.zeros(_BUCKETS, dtype=np.int64)
        self._pending: list[float] = []
        self._count = 0
        self._total = 0.0
        self._min = math.inf
        self._max = 0.0
        self._parent = parent

    def record(self, value_ms: float) -> None:
        self._pending.append(value_ms)
        if len(self._pending) >= _PENDING_LIMIT:
            self.flush()

    def record_many(self, values_ms: list[float]) -> None:
        """Record several values at once (binned with the rest, in bulk)."""
        self._pending.extend(values_ms)
        if len(self._pending) >= _PENDING_LIMIT:
            self.flush()

    def flush(self) -> None:
        """Bin the values waiting in the short list now."""
        if self._pending:
            values = np.asarray(self._pending, dtype=np.float64)
            self._pending.clear()
            self._bin(values)

    def _bin(self, values: np.ndarray) -> None:
        if values.size == 0:
            return
        values = np.maximum(values, 0.0)
        index = np.minimum((np.log(np.maximum(values, _MIN_MS) / _MIN_MS) / _LOG_GROWTH).astype(np.int64), _BUCKETS - 1)
        binned = np.bincount(index, minlength=_BUCKETS)
        low, high, total = float(values.min()), float(values.max()), float(values.sum())
        histogram: LogHistogram | None = self
        while histogram is not None:
            histogram._add(binned, values.size, total, low, high)
            histogram = histogram._parent

    def _add(self, binned: np.ndarray, count: int, total: float, low: float, high: float) -> None:
        self._counts += binned
        self._count += count
        self._total += total
        if low < self._min:
            self._min = low
        if high > self._max:
            self._max = high

    @property
    def count(self) -> int:
        return self._count + len(self._pending)

    @property
    def total(self) -> float:
        self.flush()
        return self._total

    @property
    def min(self) -> float:
        self.flush()
        return self._min

    @property
    def max(self) -> float:
        self.flush()
        return self._max

    @property
    def counts(self) -> np.ndarray:
        """Count per bucket (a view; do not modify)."""
        self.flush()
        return self._counts

    def merge(self, other: LogHistogram) -> None:
        other.flush()
        self.flush()
        if other._count:
            self._add(other._counts, other._count, other._total, other._min, other._max)

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0

    def percentiles(self, qs: tuple[float, ...]) -> tuple[float, ...]:
        """Percentiles (0-100) with numpy's default (linear) interpolation between order statistics."""
        if self.count == 0:
            return tuple(0.0 for _ in qs)
        cumulative = np.cumsum(self.counts)
        out = []
        for q in qs:
            rank = q / 100.0 * (self.count - 1)
            low, high = math.floor(rank), math.ceil(rank)
            v_low = self._value_at(cumulative, low)
            v_high = v_low if high == low else self._value_at(cumulative, high)
            out.append(v_low + (rank - low) * (v_high - v_low))
        return tuple(out)

    def _value_at(self, cumulative: np.ndarray, rank: int) -> float:
        """Approximate value of the order statistic ``rank`` (0-based)."""
        if rank <= 0:
            return self.min
        if rank >= self.count - 1:
            return self.max
        index = int(np.searchsorted(cumulative, rank, side="right"))
        return float(min(max(_CENTRES[index], self.min), self.max))

    def display_buckets(self) -> tuple[tuple[float, float, int], ...]:
        """Counts on coarse log-spaced buckets, ``((low_ms, high_ms, count), ...)``.

        :data:`DISPLAY_BUCKETS_PER_DECADE` buckets per decade, each made of whole fine
        buckets (so the counts below every edge are exact), from the first non-empty
        bucket to the last; the empty ones between are kept so the shape is true.
        """
        if self.count == 0:
            return ()
        coarse = np.bincount(_DISPLAY_INDEX, weights=self.counts).astype(np.int64)
        filled = np.flatnonzero(coarse)
        out = []
        for index in range(int(filled[0]), int(filled[-1]) + 1):
            low = _MIN_MS * 10.0 ** (index / DISPLAY_BUCKETS_PER_DECADE)
            high = _MIN_MS * 10.0 ** ((index + 1) / DISPLAY_BUCKETS_PER_DECADE)
            out.append((low, high, int(coarse[index])))
        return tuple(out)

    def stats(self) -> LatencyStats:
        if self.count == 0:
            return LatencyStats()
        p50, p90, p99 = self.percentiles((50.0, 90.0, 99.0))
        return LatencyStats(self.count, self.mean, p50, p90, p99, self.max)
