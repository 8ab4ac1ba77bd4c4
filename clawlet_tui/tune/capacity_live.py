"""Capacity on a live engine: :func:`find_capacity` runs :class:`~.capacity.RateSearch`.

One engine is built as ``run`` builds it and started once; the load runs throughout,
its rate changed between steps (``LoadGenerator.set_rate``), and every request sent ends
in one outcome counted in one period.  After a failing rate the load pauses until the engine has drained what piled
up (bounded), so the next, lower rate is not measured on the previous rate's backlog.
Cancellation (Ctrl+C, SIGTERM) stops the load, drains the engine and returns what was
found so far, marked interrupted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..stop_signals import absorb_cancellation
from .capacity import (
    DEFAULT_MAX_RPS,
    DEFAULT_RESOLUTION,
    DEFAULT_START_RPS,
    MIN_RPS,
    CapacityTarget,
    RateSearch,
    RateSearchResult,
    RateStep,
    round_rate,
)
from .measure import Measurement, MeasureSettings, Window, WindowReader, measure_steady

#: open-loop shapes kept as they are; any other load is probed as poisson arrivals
KEPT_SHAPES = ("constant", "poisson")
#: seconds the engine may take to drain after a failed rate, and at the end
DRAIN_TIMEOUT_S = 10.0


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
                absorb_cancellation()  # handled here: the clean-up below awaits normally
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
