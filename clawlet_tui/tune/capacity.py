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

:func:`find_capacity` runs the search on one live engine (built as ``run`` builds it):
the engine starts once, the load runs throughout with its rate changed between steps
(``LoadGenerator.set_rate``), and every request sent ends in one outcome counted in one
period.  After a failing rate the load pauses until the engine has drained what piled
up (bounded), so the next, lower rate is not measured on the previous rate's backlog.
Cancellation (Ctrl+C, SIGTERM) stops the load, drains the engine and returns what was
found so far, marked interrupted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..engine.errors import ConfigError
from .measure import Measurement, MeasureSettings, Window, WindowReader, measure_steady

MIN_SUCCESS = 0.999
DEFAULT_RESOLUTION = 0.05
DEFAULT_MAX_RPS = 100_000.0
MIN_RPS = 1.0
#: the start rate for a preset whose load has no rate of its own (closed loop)
DEFAULT_START_RPS = 100.0
#: seconds the engine may take to drain after a failed rate, and at the end
DRAIN_TIMEOUT_S = 10.0
#: open-loop shapes kept as they are; any other load is probed as poisson arrivals
KEPT_SHAPES = ("constant", "poisson")

#: roles of a step
START, RAISE, LOWER, BISECT, CONFIRM = "start", "raise", "lower", "bisect", "confirm"


class RateMeasured(Protocol):
    """What the target reads from one rate's measurement (a :class:`RateMeasurement` or a stand-in)."""

    @property
    def throughput_rps(self) -> float: ...

    @property
    def p99_ms(self) -> float: ...

    @property
    def success(self) -> float: ...

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


# -- live: one engine, an open-loop load whose rate moves ----------------------------------


@dataclass(frozen=True)
class RateMeasurement:
    """One rate measured on the live engine."""

    rate_rps: float
    measurement: Measurement
    #: requests in flight when the step ended
    backlog: int

    @property
    def throughput_rps(self) -> float:
        return self.measurement.throughput_rps

    @property
    def p50_ms(self) -> float:
        return self.measurement.p50_ms

    @property
    def p99_ms(self) -> float:
        return self.measurement.p99_ms

    @property
    def success(self) -> float:
        return self.measurement.success

    @property
    def offered_rps(self) -> float:
        """Requests sent per second over the measured windows (the rate as it was delivered)."""
        windows = self.measurement.windows
        span = sum(w.duration_s for w in windows)
        return sum(w.submitted for w in windows) / span if span > 0 else 0.0


def open_loop_profile(load: Any, rate_rps: float, duration_s: float) -> Any:
    """The preset's load as open-loop arrivals at ``rate_rps``: same keys, seed and (if steady) shape."""
    shape = load.shape if load.mode == "open" and load.shape in KEPT_SHAPES else "poisson"
    return type(load)(mode="open", shape=shape, rate_rps=rate_rps, duration_s=duration_s, keys=load.keys, seed=load.seed)


class LiveRates:
    """``evaluate(rate, role)`` for :class:`RateSearch` on a running engine and open-loop generator."""

    def __init__(
        self,
        engine: Any,
        generator: Any,
        reader: WindowReader,
        target: CapacityTarget,
        settings: MeasureSettings,
        *,
        drain_timeout_s: float = DRAIN_TIMEOUT_S,
    ) -> None:
        self.engine, self.generator, self.reader = engine, generator, reader
        self.target, self.settings = target, settings
        self.drain_timeout_s = drain_timeout_s

    async def __call__(self, rate_rps: float, role: str) -> RateMeasurement:
        self.generator.set_rate(rate_rps)
        self.generator.resume()
        self.engine.log_event("capacity", f"{role} {rate_rps:g} req/s")

        def overloaded(windows: Sequence[Window]) -> bool:
            return sum(self.target.window_violates(w) for w in windows) >= 2

        measurement = await measure_steady(self.reader, self.settings, give_up=overloaded)
        result = RateMeasurement(rate_rps, measurement, self.reader.in_flight)
        if self.target.verdict(rate_rps, result):
            await self.drain()
        return result

    async def drain(self) -> None:
        """Pause the load until the engine holds nothing (or the drain limit): one period of its own."""
        self.generator.pause()
        deadline = self.engine.clock() + self.drain_timeout_s
        while self.engine.monitor.outcomes().in_flight > 0 and self.engine.clock() < deadline:
            await asyncio.sleep(0.02)
        self.reader.take()


@dataclass(frozen=True)
class CapacityResult:
    preset: Any
    target: CapacityTarget
    settings: MeasureSettings
    resolution: float
    search: RateSearchResult
    config: Any
    load_description: str
    model_description: str
    wall_s: float
    #: the load generator's counts at the end, and the outcomes counted over every period
    sent: int
    completed: int
    failed: int
    finished_in_periods: int
    interrupted: bool = False
    interrupt_signal: str | None = None

    @property
    def accounted(self) -> bool:
        return self.sent == self.completed + self.failed == self.finished_in_periods

    @property
    def capacity_step(self) -> RateStep | None:
        """The last measurement of the capacity rate (the figures the capacity is stated with)."""
        rate = self.search.capacity_rps
        return next((s for s in reversed(self.search.steps) if s.rate_rps == rate), None)


async def find_capacity(
    preset: Any,
    target: CapacityTarget,
    *,
    start_rps: float | None = None,
    resolution: float = DEFAULT_RESOLUTION,
    max_rps: float = DEFAULT_MAX_RPS,
    budget_s: float = 120.0,
    settings: MeasureSettings | None = None,
    max_steps: int | None = None,
    overrides: dict[str, Any] | None = None,
    on_step: Callable[[RateStep], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> CapacityResult:
    """Search ``preset``'s config for its capacity under ``target``; see the module docstring."""
    from ..load import LoadGenerator
    from ..session import build_session

    settings = settings or MeasureSettings()
    start = start_rps if start_rps is not None else default_start_rps(preset)
    search = RateSearch(target, start_rps=start, resolution=resolution, max_rps=max_rps, max_steps=max_steps, clock=clock)
    load_s = budget_s + settings.max_trial_s + 3600.0

    def open_loop(engine: Any, profile: Any, model: Any) -> LoadGenerator:
        return LoadGenerator(engine, open_loop_profile(profile, search.start_rps, load_s), model=model)

    began = clock()
    deadline = began + budget_s
    interrupted = False
    with build_session(preset, overrides=overrides, generator_factory=open_loop) as session:
        engine, generator, model = session.engine, session.generator, session.model
        await engine.start()
        try:
            reader = WindowReader(engine)
            await generator.start()
            live = LiveRates(engine, generator, reader, target, settings)

            def can_start() -> bool:
                return clock() + settings.max_trial_s <= deadline

            try:
                await search.run(live, can_start, on_step=on_step)
            except (asyncio.CancelledError, KeyboardInterrupt):
                interrupted = True
                task = asyncio.current_task()
                if task is not None:
                    while task.uncancel():  # handled here: the clean-up below awaits normally
                        pass
                search.ended = "interrupted"
        finally:
            try:
                await generator.stop(timeout_s=DRAIN_TIMEOUT_S + 1.0)
            finally:
                await engine.stop(drain_timeout_s=DRAIN_TIMEOUT_S)
        reader.take()  # the drain: whatever finished after the last window
        stats = generator.stats()
        config = engine.config
    return CapacityResult(
        preset=preset,
        target=target,
        settings=settings,
        resolution=resolution,
        search=search.result(),
        config=dataclasses.replace(config, l2_cache_dir=preset.config.l2_cache_dir),
        load_description=describe_probe_load(preset.load),
        model_description=model.describe(),
        wall_s=clock() - began,
        sent=stats.sent,
        completed=stats.completed,
        failed=stats.failed_total,
        finished_in_periods=sum(p.finished for p in reader.periods),
        interrupted=interrupted,
    )


def describe_probe_load(load: Any) -> str:
    """``open loop, poisson arrivals at the probed rate, uniform over 1000 keys``."""
    probe = open_loop_profile(load, 1.0, 1.0)
    return f"open loop, {probe.shape} arrivals at the probed rate, {load.keys.describe()}"


def default_start_rps(preset: Any) -> float:
    """An open-loop preset's own rate; otherwise :data:`DEFAULT_START_RPS`."""
    load = preset.load
    rate = load.nominal_rps if load.mode == "open" else 0.0
    return round_rate(rate) if rate >= MIN_RPS else DEFAULT_START_RPS
