"""Capacity: the highest open-loop rate one engine config sustains under a P99 SLO.

A rate is *sustained* (:meth:`CapacityTarget.verdict`) when, measured as a tune trial is
(warm-up, then windows until three agree, :func:`.measure.measure_steady`):

* P99 <= SLO, latency counted from each request's *intended* send time (the open-loop
  generator passes it to ``engine.submit``), so a falling-behind engine shows as latency;
* success >= 99.9% of the requests that finished in the measured windows;
* the backlog did not run away: the requests still in flight at the end are at most
  ``2 x rate x SLO + 10``.  By Little's law a load whose requests finish within the SLO
  keeps about ``rate x mean latency`` in flight; more means requests are piling up that
  the windows' P99 has not seen yet (they have not finished), the censoring an overload
  hides behind.

:class:`RateSearch` (pure: it only calls ``evaluate(rate, role)``) raises the rate by
doubling from a start rate until a rate fails (or halves until one passes), then
bisects geometrically between the highest passing and lowest failing rate until they
are within ``resolution`` of each other, then measures the highest passing rate again.
Guarantees:

* the capacity reported is a rate every one of whose measurements passed, and lies below
  every rate that failed a measurement: an SLO-violating rate is never reported;
* no step starts unless ``can_start()`` allows it, and at most ``max_steps`` run;
* rates are rounded to 3 significant figures, so the curve reads as typed.

The live half (one engine, the load's rate moved between steps) is :mod:`.capacity_live`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from ..engine.errors import ConfigError
from .measure import Window
from .objective import Measured

MIN_SUCCESS = 0.999
DEFAULT_RESOLUTION = 0.05
DEFAULT_MAX_RPS = 100_000.0
MIN_RPS = 1.0
#: the start rate for a preset whose load has no rate of its own (closed loop)
DEFAULT_START_RPS = 100.0

#: roles of a step
START, RAISE, LOWER, BISECT, CONFIRM = "start", "raise", "lower", "bisect", "confirm"


class RateMeasured(Measured, Protocol):
    """What the target reads from one rate's measurement (a :class:`RateMeasurement` or a
    stand-in): a trial's figures plus the requests still in flight at its end."""

    @property
    def backlog(self) -> int: ...


@dataclass(frozen=True)
class CapacityTarget:
    slo_p99_ms: float
    min_success: float = MIN_SUCCESS

    def __post_init__(self) -> None:
        slo = self.slo_p99_ms
        if not isinstance(slo, (int, float)) or isinstance(slo, bool) or not 0 < slo < math.inf:
            raise ConfigError(f"--slo-p99 must be a number of milliseconds > 0, got {slo!r}", field="slo_p99_ms")
        if not 0 < self.min_success <= 1:
            raise ConfigError(f"min_success must be in (0, 1], got {self.min_success!r}", field="min_success")

    def describe(self) -> str:
        return f"P99 <= {self.slo_p99_ms:g} ms (from the intended send time) and success >= {self.min_success * 100:g}%"

    def backlog_bound(self, rate_rps: float) -> int:
        """Requests that may be in flight at a step's end (see the module docstring)."""
        return math.ceil(2.0 * rate_rps * self.slo_p99_ms / 1000.0) + 10

    def verdict(self, rate_rps: float, m: RateMeasured) -> str:
        """Why ``m`` fails at ``rate_rps`` ("" when the rate is sustained)."""
        if m.throughput_rps <= 0:
            return "nothing succeeded"
        if m.success < self.min_success:
            return f"success {m.success * 100:.2f}% < {self.min_success * 100:g}%"
        if m.p99_ms > self.slo_p99_ms:
            return f"P99 {m.p99_ms:.1f} > {self.slo_p99_ms:g} ms"
        if m.backlog > self.backlog_bound(rate_rps):
            return f"backlog {m.backlog} > {self.backlog_bound(rate_rps)} in flight"
        return ""

    def window_violates(self, w: Window) -> bool:
        ok = w.succeeded / w.finished if w.finished else 0.0
        return w.p99_ms > self.slo_p99_ms or ok < self.min_success


def round_rate(rps: float) -> float:
    return float(f"{rps:.3g}")


@dataclass(frozen=True)
class RateStep:
    number: int
    role: str
    rate_rps: float
    measured: RateMeasured
    #: "" when the rate was sustained, else why not
    failure: str
    #: seconds since the search started, when the step ended
    ended_at_s: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.failure


@dataclass(frozen=True)
class RateSearchResult:
    #: the highest sustained rate (None: no rate passed)
    capacity_rps: float | None
    #: the lowest rate that failed a measurement (None: none failed)
    failed_rps: float | None
    #: the capacity rate was measured twice and passed both times
    confirmed: bool
    steps: tuple[RateStep, ...]
    #: "converged", "max-rps" (the cap passed), "none" (nothing passed down to the floor),
    #: "budget" (``can_start`` or ``max_steps`` stopped it)
    ended: str


Evaluate = Callable[[float, str], Awaitable[RateMeasured]]


class RateSearch:
    """Doubling, then geometric bisection, then a confirmation (see the module docstring)."""

    def __init__(
        self,
        target: CapacityTarget,
        *,
        start_rps: float = DEFAULT_START_RPS,
        resolution: float = DEFAULT_RESOLUTION,
        max_rps: float = DEFAULT_MAX_RPS,
        min_rps: float = MIN_RPS,
        max_steps: int | None = None,
        confirm: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        check_rates(start_rps, resolution, max_rps, min_rps)
        self.target = target
        self.start_rps = round_rate(start_rps)
        self.resolution = resolution
        self.max_rps = max_rps
        self.min_rps = min_rps
        self.max_steps = max_steps
        self.confirm = confirm
        self.clock = clock
        self.steps: list[RateStep] = []
        self.ended = "converged"

    def _results(self) -> dict[float, list[bool]]:
        results: dict[float, list[bool]] = {}
        for step in self.steps:
            results.setdefault(step.rate_rps, []).append(step.passed)
        return results

    def bracket(self) -> tuple[float | None, float | None]:
        """(highest rate that always passed below every failure, lowest rate that ever failed)."""
        results = self._results()
        hi = min((r for r, oks in results.items() if not all(oks)), default=None)
        lo = max((r for r, oks in results.items() if all(oks) and (hi is None or r < hi)), default=None)
        return lo, hi

    def next_step(self) -> tuple[float, str] | None:
        """The next rate to measure and why, or None with :attr:`ended` saying why not."""
        lo, hi = self.bracket()
        if lo is None and hi is None:
            return self.start_rps, START
        if lo is None:
            assert hi is not None
            rate = round_rate(hi / 2.0)
            if rate < self.min_rps:
                self.ended = "none"
                return None
            return rate, LOWER
        if hi is None:
            if lo >= self.max_rps:
                self.ended = "max-rps"
                return None
            return round_rate(min(lo * 2.0, self.max_rps)), RAISE
        if hi > lo * (1.0 + self.resolution):
            mid = round_rate(math.sqrt(lo * hi))
            if lo < mid < hi:
                return mid, BISECT
        if self.confirm and len(self._results()[lo]) < 2:
            return lo, CONFIRM
        self.ended = "converged"
        return None

    async def run(
        self,
        evaluate: Evaluate,
        can_start: Callable[[], bool] = lambda: True,
        *,
        on_step: Callable[[RateStep], None] | None = None,
    ) -> RateSearchResult:
        began = self.clock()
        while (step := self.next_step()) is not None:
            if (self.max_steps is not None and len(self.steps) >= self.max_steps) or not can_start():
                self.ended = "budget"
                break
            rate, role = step
            measured = await evaluate(rate, role)
            done = RateStep(len(self.steps) + 1, role, rate, measured, self.target.verdict(rate, measured), self.clock() - began)
            self.steps.append(done)
            if on_step is not None:
                on_step(done)
        return self.result()

    def result(self) -> RateSearchResult:
        lo, hi = self.bracket()
        return RateSearchResult(
            capacity_rps=lo,
            failed_rps=hi,
            confirmed=lo is not None and len(self._results()[lo]) >= 2,
            steps=tuple(self.steps),
            ended=self.ended,
        )


def check_rates(start_rps: float, resolution: float, max_rps: float, min_rps: float = MIN_RPS) -> None:
    """ConfigError (one line, naming the option) for rates a search cannot use."""
    for name, value in (("--start-rps", start_rps), ("--max-rps", max_rps)):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not min_rps <= value < math.inf:
            raise ConfigError(f"{name} must be a rate >= {min_rps:g} req/s, got {value!r}", field=name.lstrip("-"))
    if start_rps > max_rps:
        raise ConfigError(f"--start-rps ({start_rps:g}) must not exceed --max-rps ({max_rps:g})", field="start-rps")
    if not isinstance(resolution, (int, float)) or isinstance(resolution, bool) or not 0.005 <= resolution <= 1:
        raise ConfigError(f"--resolution must be a fraction in 0.005..1, got {resolution!r}", field="resolution")
