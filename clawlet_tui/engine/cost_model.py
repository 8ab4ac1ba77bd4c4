"""Online cost model of a batch: compute time ≈ ``a + b·n``, fitted from measured batches.

The adaptive batch policy and predicted-late shedding ask the same two questions of it:
how long would a batch of ``n`` take, and how fast are requests arriving?
The policy asks a third of :class:`WaitOutcomes`: do the waits it predicts pay?

* :class:`BatchCostModel` is an ordinary least-squares line through the last ``window``
  measured ``(n, seconds)`` pairs, solved again only when asked after a new batch.  It
  answers only once it has seen at least two different batch sizes (one size cannot
  separate the fixed cost from the per-item cost).  ``a`` and ``b`` are clamped at 0: a
  negative fixed or per-item cost is noise, and predictions must never come out negative.
* It also keeps the mean measured time of each batch size (:meth:`BatchCostModel.size_cost`),
  because a real model is not a straight line at small sizes: numpy's MLP computes a
  batch of 2 *slower per item* than a batch of 1 (a matrix-vector product turns into a
  small matrix product), so two queued requests finish sooner one after the other than
  together.  :meth:`BatchCostModel.preferred_size` says which size to send instead; it is
  what Triton's ``preferred_batch_size`` asks the user to know, measured here.
  Batches that ran while another batch ran are kept apart (``overlapped``): on two cores
  shared with the event loop, two batches at once each take much longer than one alone
  (measured: the MLP's batch of 1, 1.0 ms alone, 1.9 ms beside another), which is what
  tells the batcher when a busy worker will serve a lone batch sooner than an idle one.
* :class:`ArrivalRate` is the rate over the last 64 arrivals, read up to a given
  instant, so it follows a change in load within a few dozen requests and is not thrown
  off by the burst of requests the batcher is deciding about.
* :class:`WaitOutcomes` is the check on both: whether the waits the model predicts
  actually catch an arrival.  The model assumes an open stream of arrivals; a closed
  loop (or any load whose arrivals follow completions) breaks that, and this is what
  notices.
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


#: weight of a new batch in a size's running mean time (about the last 10 batches count)
SIZE_COST_ALPHA = 0.2
#: batches of a size measured before :meth:`BatchCostModel.preferred_size` trusts its mean
SIZE_COST_MIN_SAMPLES = 3
#: a smaller size must compute at least this much faster per item to be preferred
SIZE_COST_MARGIN = 0.10
#: queues up to this long are planned by completion times (BatchCostModel.preferred_size);
#: longer ones, a backlog, by cost per item
SIZE_COST_PLAN_LIMIT = 16
#: below this share of one worker's time (arrival rate x time per item at a size), a load
#: is light: a short queue is split for latency even where batching would compute faster
SIZE_COST_LIGHT_LOAD = 0.5
#: after this many times a smaller size is preferred to ``n``, a batch of ``n`` is sent
#: anyway, so its mean stays current (a size that got cheaper would otherwise never be
#: measured again); the interval doubles after each such probe, up to the second figure,
#: because every probe is a batch that computes slower per item
SIZE_COST_PROBE_EVERY = 32
SIZE_COST_MAX_PROBE_EVERY = 1024


class BatchCostModel:
    """Least-squares fit of batch compute time against batch size over a sliding window,
    and the running mean time of each batch size."""

    __slots__ = ("window", "_points", "_fit", "_stale", "_sizes", "_probes")

    def __init__(self, window: int = 64) -> None:
        if window < 2:
            raise ValueError(f"window must be >= 2, got {window}")
        self.window = window
        self._points: deque[tuple[int, float]] = deque(maxlen=window)
        self._fit: BatchCost | None = None
        self._stale = False
        #: batch size -> (running mean seconds, batches measured); a negative size is that
        #: size measured while another batch ran
        self._sizes: dict[int, tuple[float, int]] = {}
        #: size -> (times a smaller size was preferred since the last probe, probe interval)
        self._probes: dict[int, tuple[int, int]] = {}

    def __len__(self) -> int:
        return len(self._points)

    def observe(self, n: int, seconds: float, *, overlapped: bool | None = False) -> None:
        """One measured batch of ``n`` items that computed in ``seconds``.

        ``overlapped``: False, it ran alone; True, it started beside another batch; None,
        another batch joined it on the way (a mix of both: the line takes it, the per-size
        means do not).
        """
        if n < 1 or not math.isfinite(seconds) or seconds < 0:
            return
        self._points.append((n, seconds))
        self._stale = True
        if overlapped is None:
            return
        key = -n if overlapped else n
        mean, count = self._sizes.get(key, (seconds, 0))
        self._sizes[key] = (mean + SIZE_COST_ALPHA * (seconds - mean) if count else seconds, count + 1)

    def reset(self) -> None:
        self._points.clear()
        self._fit = None
        self._stale = False
        self._sizes.clear()
        self._probes.clear()

    def size_cost(self, n: int, *, overlapped: bool = False) -> float | None:
        """Mean measured seconds of a batch of ``n`` that ran alone (``overlapped``: beside
        another batch); None until measured often enough."""
        mean, count = self._sizes.get(-n if overlapped else n, (0.0, 0))
        return mean if count >= SIZE_COST_MIN_SAMPLES else None

    def estimate(self, n: int, *, overlapped: bool = False) -> float | None:
        """Seconds a batch of ``n`` should take alone (``overlapped``: beside another batch):
        its measured mean (:meth:`size_cost`) where there is one, else a derived figure,
        so a size not measured yet does not leave the batcher without an answer.

        Alone: the fitted line.  Beside: the estimate alone times the slowdown measured at
        the nearest size that ran both ways (running beside another batch costs about the
        same factor at neighbouring sizes).  None when neither is known.
        """
        measured = self.size_cost(n, overlapped=overlapped)
        if measured is not None:
            return measured
        if not overlapped:
            fit = self.fit()
            return fit.seconds(n) if fit is not None else None
        alone = self.estimate(n)
        slowdown = self.overlap_slowdown(n)
        return alone * slowdown if alone is not None and slowdown is not None else None

    def overlap_slowdown(self, n: int) -> float | None:
        """Time beside another batch over time alone, measured at the size nearest ``n``
        (by ratio) that ran both ways; None when no size did."""
        best: tuple[float, float] | None = None
        for size in self._sizes:
            if size <= 0:
                continue
            alone, beside = self.size_cost(size), self.size_cost(size, overlapped=True)
            if alone is None or beside is None or alone <= 0:
                continue
            distance = abs(math.log(size / n))
            if best is None or distance < best[0]:
                best = (distance, beside / alone)
        return best[1] if best is not None else None

    def preferred_size(self, n: int, arrival_rate: float | None = None) -> int:
        """How many of ``n`` queued requests to send in one batch: ``n``, unless a smaller
        measured size serves them clearly sooner (the rest wait for the next batch, behind
        a worker that is busy, not idle).  ``n`` while its own size is unmeasured.

        Up to :data:`SIZE_COST_PLAN_LIMIT` queued, "sooner" is the sum of the ``n``
        requests' completion times when they are served one batch after another
        (:meth:`_completion_sum`).  A smaller size is a candidate if it computes within
        :data:`SIZE_COST_MARGIN` as fast per item as ``n``, so trimming costs next to no
        throughput, or if at ``arrival_rate`` (requests per second; None: unknown, not light)
        serving every request
        at that size would keep one worker busy at most :data:`SIZE_COST_LIGHT_LOAD` of
        the time: then throughput is not what the requests wait for.  This catches what
        a per-item rule alone misses: numpy's MLP computes 3 at 0.70 ms per item and 1 at
        0.64, nearly the same rate, but one after another the three finish at 0.64, 1.28
        and 1.92 ms instead of all at 2.1.  Above the limit (a backlog, where throughput is
        what serves the queue) a smaller size must compute at least
        :data:`SIZE_COST_MARGIN` faster per item.
        """
        own = self.size_cost(n)
        if n <= 1 or own is None:
            return n
        best = self._plan(n, own, arrival_rate) if n <= SIZE_COST_PLAN_LIMIT else self._cheapest_per_item(n, own)
        if best == n:
            self._probes.pop(n, None)
            return n
        if self._is_light(best, arrival_rate):
            return best  # no probe at light load: a probe is a slow batch, and no throughput is at stake
        since, every = self._probes.get(n, (0, SIZE_COST_PROBE_EVERY))
        if since + 1 >= every:
            self._probes[n] = (0, min(2 * every, SIZE_COST_MAX_PROBE_EVERY))
            return n  # measure the queued size again
        self._probes[n] = (since + 1, every)
        return best

    def _is_light(self, size: int, arrival_rate: float | None) -> bool:
        """Serving every request in batches of ``size`` would keep one worker busy at most
        :data:`SIZE_COST_LIGHT_LOAD` of the time at ``arrival_rate``."""
        cost = self.size_cost(size)
        return arrival_rate is not None and cost is not None and arrival_rate * cost / size <= SIZE_COST_LIGHT_LOAD

    def _cheapest_per_item(self, n: int, own: float) -> int:
        best, best_per_item = n, own / n
        for size in range(1, n):
            cost = self.size_cost(size)
            if cost is not None and cost / size < best_per_item * (1.0 - SIZE_COST_MARGIN):
                best, best_per_item = size, cost / size
        return best

    def _plan(self, n: int, own: float, arrival_rate: float | None) -> int:
        """The first batch size that minimises the completion-time sum of ``n`` queued
        requests, among the candidates :meth:`preferred_size` names; ``n`` unless that
        beats sending all of them by :data:`SIZE_COST_MARGIN`."""
        costs = {k: c for k in range(1, n) if (c := self.size_cost(k)) is not None}
        light = {k for k in costs if self._is_light(k, arrival_rate)}
        candidates = [k for k, c in costs.items() if c / k <= own / n * (1.0 + SIZE_COST_MARGIN) or k in light]
        if not candidates:
            return n
        costs[n] = own
        sums = self._completion_sum(n, costs)
        best, best_sum = n, math.inf
        for k in candidates:
            total = n * costs[k] + sums[n - k]
            if total < best_sum:
                best, best_sum = k, total
        # Under light load a near tie goes to the smaller batch: on this kind of machine a
        # bigger batch's time varies more (numpy's batch of 4: 2.1 ms on average, up to 3.6),
        # and throughput is not what the requests wait for.
        margin = SIZE_COST_MARGIN if best in light else -SIZE_COST_MARGIN
        return best if best_sum < n * own * (1.0 + margin) else n

    @staticmethod
    def _completion_sum(n: int, costs: dict[int, float]) -> list[float]:
        """``sums[m]``: the least sum of completion times of ``m`` requests served one
        batch after another from the measured sizes (a batch of ``k`` taking ``costs[k]``
        delays all ``m`` requests by it: ``sums[m] = min_k m·costs[k] + sums[m - k]``)."""
        sums = [0.0] + [math.inf] * n
        for m in range(1, n + 1):
            sums[m] = min((m * c + sums[m - k] for k, c in costs.items() if k <= m), default=math.inf)
        return sums

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
    """Requests per second over the last ``window`` arrivals (a ring of arrival times).

    ``per_s(now, before=t)`` counts only the arrivals strictly before ``t``: the batcher
    passes the arrival time of its batch's first request, so the rate is read from the
    load *before* the requests it is deciding about.  Read at the end of a burst (closed
    loop clients resubmitting together at a completion), a rate that counted the burst
    itself would come out high by up to one burst per window; one that stops before it
    is exact for periodic bursts and unbiased for a Poisson stream.
    """

    __slots__ = ("_times", "count")

    def __init__(self, window: int = 64) -> None:
        if window < 2:
            raise ValueError(f"window must be >= 2, got {window}")
        self._times: deque[float] = deque(maxlen=window)
        self.count = 0

    @property
    def window(self) -> int:
        return self._times.maxlen or 0

    def arrived(self, now: float) -> None:
        self.count += 1
        self._times.append(now)

    def per_s(self, now: float, before: float | None = None) -> float:
        """Current rate; 0.0 without two arrivals to measure.  A lull longer than the mean gap lowers it.

        The rate is ``k / (end - oldest)``: ``k`` arrivals in the ring before ``end``, which is
        ``before`` when given (itself an arrival, closing the last gap) or the newest arrival.
        """
        times = self._times
        if not times:
            return 0.0
        newest = times[-1]
        if before is None:
            end, gaps = newest, len(times) - 1
        else:
            end, gaps = before, len(times)
            for t in reversed(times):  # the arrivals at or after ``before`` are the newest few
                if t < before:
                    break
                gaps -= 1
        span = end - times[0]
        if gaps < 1 or span < 0:
            return 0.0
        if span == 0:
            return math.inf
        mean_gap = span / gaps
        # The time since the last arrival is a gap in progress: count it once it is
        # longer than the mean, so a load that stopped is not believed to continue.
        return 1.0 / max(mean_gap, now - newest)

    def reset(self) -> None:
        self._times.clear()
        self.count = 0


class WaitOutcomes:
    """Whether the batcher's predicted waits catch what they wait for: feedback on the cost model.

    The cost model reads the arrival rate as an open stream.  In a closed loop (clients
    that send again only when served) no request can come while every worker computes and
    the queue is empty, which is exactly when the batcher considers waiting; there the
    next arrival is the resubmission that follows a completion, and it arrives together
    with an idle worker.  So each wait is judged by what happened: it *caught* when a
    request came within the predicted horizon and no other worker went idle meanwhile.

    Predicted waits are allowed while at least half of the last ``window`` waits caught.
    Until a wait has caught (a fresh batcher, or after the waits stopped paying), the
    batcher dispatches at once and counts each batch the model would have waited on;
    after ``probe_after`` of those it tries one wait (a probe).  A probe that misses
    doubles ``probe_after`` (up to ``max_probe_after``), one that catches resets it.  In a
    closed loop that costs at most one bounded wait per ``probe_after`` such batches; an
    open-loop load that starts or comes back regains its waits at its next probe.
    """

    __slots__ = ("window", "first_probe_after", "max_probe_after", "probe_after", "skipped", "_outcomes")

    def __init__(self, window: int = 16, probe_after: int = 64, max_probe_after: int = 1024) -> None:
        if window < 1 or probe_after < 1 or max_probe_after < probe_after:
            raise ValueError(f"need window >= 1 and 1 <= probe_after <= max_probe_after, got {window}, {probe_after}, {max_probe_after}")
        self.window = window
        self.first_probe_after = probe_after
        self.max_probe_after = max_probe_after
        #: batches the model would have waited on, to skip before the next probe
        self.probe_after = probe_after
        #: such batches dispatched at once since the last wait
        self.skipped = 0
        self._outcomes: deque[bool] = deque(maxlen=window)

    @property
    def paying(self) -> bool:
        """At least half of the recorded waits caught (False before any wait)."""
        caught = sum(self._outcomes)
        return bool(self._outcomes) and 2 * caught >= len(self._outcomes)

    def may_wait(self) -> bool:
        """Whether a wait the cost model predicts is allowed now (paying, or a probe is due)."""
        return self.paying or self.skipped >= self.probe_after

    def skip(self) -> None:
        """The model predicted a gain and the batch left at once."""
        self.skipped += 1

    def record(self, caught: bool) -> None:
        """One predicted wait ended: ``caught`` if a request came in time with no worker idle."""
        probe = not self.paying
        self._outcomes.append(caught)
        self.skipped = 0
        if caught:
            self.probe_after = self.first_probe_after
        elif probe:
            self.probe_after = min(2 * self.probe_after, self.max_probe_after)

    def counts(self) -> tuple[int, int]:
        """(caught, recorded) over the window."""
        return sum(self._outcomes), len(self._outcomes)

    def reset(self) -> None:
        self._outcomes.clear()
        self.skipped = 0
        self.probe_after = self.first_probe_after
