"""Online cost model of a batch: compute time ≈ ``a + b·n``, fitted from measured batches.

The adaptive batch policy and predicted-late shedding ask the same two questions of it:
how long would a batch of ``n`` take, and how fast are requests arriving?

* :class:`BatchCostModel` is an ordinary least-squares line through the last ``window``
  measured ``(n, seconds)`` pairs, solved again only when asked after a new batch.  It
  answers only once it has seen at least two different batch sizes (one size cannot
  separate the fixed cost from the per-item cost).  ``a`` and ``b`` are clamped at 0: a
  negative fixed or per-item cost is noise, and predictions must never come out negative.
* :class:`ArrivalRate` is an exponentially weighted mean of the gaps between arrivals,
  so the rate follows a change in load within a few dozen requests.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class BatchCost:
    """A fitted line: ``seconds(n) = a_s + b_s * n``."""

    a_s: float
    b_s: float
    samples: int

    def seconds(self, n: int) -> float:
        return self.a_s + self.b_s * n


class BatchCostModel:
    """Least-squares fit of batch compute time against batch size over a sliding window."""

    __slots__ = ("window", "_points", "_fit", "_stale")

    def __init__(self, window: int = 64) -> None:
        if window < 2:
            raise ValueError(f"window must be >= 2, got {window}")
        self.window = window
        self._points: deque[tuple[int, float]] = deque(maxlen=window)
        self._fit: BatchCost | None = None
        self._stale = False

    def __len__(self) -> int:
        return len(self._points)

    def observe(self, n: int, seconds: float) -> None:
        """One measured batch of ``n`` items that computed in ``seconds``."""
        if n < 1 or not math.isfinite(seconds) or seconds < 0:
            return
        self._points.append((n, seconds))
        self._stale = True

    def reset(self) -> None:
        self._points.clear()
        self._fit = None
        self._stale = False

    def fit(self) -> BatchCost | None:
        """The current line, or None until two different batch sizes were measured."""
        if self._stale:
            self._stale = False
            self._fit = self._solve()
        return self._fit

    def _solve(self) -> BatchCost | None:
        count = len(self._points)
        if count < 2:
            return None
        mean_n = sum(n for n, _ in self._points) / count
        mean_s = sum(s for _, s in self._points) / count
        sxx = sum((n - mean_n) ** 2 for n, _ in self._points)
        if sxx < 1e-12:
            return None  # every batch had the same size
        sxy = sum((n - mean_n) * (s - mean_s) for n, s in self._points)
        b = max(sxy / sxx, 0.0)
        a = mean_s - b * mean_n
        if a < 0.0:
            # The least-squares line through the origin (a = 0) instead.
            a = 0.0
            b = max(sum(n * s for n, s in self._points) / sum(n * n for n, _ in self._points), 0.0)
        return BatchCost(a, b, count)


class ArrivalRate:
    """Requests per second, from an exponentially weighted mean of inter-arrival gaps."""

    __slots__ = ("alpha", "_last", "_gap", "count")

    def __init__(self, alpha: float = 0.05) -> None:
        self.alpha = alpha
        self._last: float | None = None
        self._gap: float | None = None
        self.count = 0

    def arrived(self, now: float) -> None:
        self.count += 1
        if self._last is not None:
            gap = max(now - self._last, 0.0)
            self._gap = gap if self._gap is None else self._gap + self.alpha * (gap - self._gap)
        self._last = now

    def per_s(self, now: float) -> float:
        """Current rate; 0.0 until two arrivals.  A lull longer than the mean gap lowers it."""
        if self._gap is None or self._last is None:
            return 0.0
        # The time since the last arrival is a gap in progress: count it once it is
        # longer than the mean, so a load that stopped is not believed to continue.
        gap = max(self._gap, now - self._last)
        return 1.0 / gap if gap > 0 else math.inf

    def reset(self) -> None:
        self._last = self._gap = None
        self.count = 0
