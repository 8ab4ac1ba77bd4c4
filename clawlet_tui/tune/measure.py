"""One trial: switch the live engine to a config, warm up, measure in windows until stable.

The measurement is the engine's own: its monitor counts every outcome and bins every
latency.  A window is isolated with :meth:`ClawletEngine.reset_metrics`: at a window's
end the monitor's outcome counts and latency histogram are read, a copy of the
histogram is kept, and the metrics are reset, all in one turn of the event loop, so no
request can finish between the read and the reset.  ``reset_metrics`` keeps the
requests in flight counted as submitted, so a request that straddles a boundary ends
in exactly one later period: the periods (warm-up, windows, the final drain) partition
every request the load sent.  Nothing here restarts the engine: configs change with
:meth:`ClawletEngine.reconfigure`, which keeps queued and running requests.

Stability follows perf_analyzer's ``--stability-percentage``: a trial is stable when
the last three windows agree within 10% (max <= min x 1.10) in both throughput and P99.
A trial that is not stable after ``max_windows`` ends anyway, marked unstable.  A stable
trial's figures are those of its last three windows together (their histograms merged),
as perf_analyzer reports the stable measurements merged; an unstable trial's are those
of all its windows merged, the most samples there are of a noisy config.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..engine.config import OptimizationConfig
from ..engine.errors import ConfigError
from ..engine.monitor import LogHistogram

#: windows that must agree, and how closely (perf_analyzer's defaults: 3 windows, 10%)
STABLE_WINDOWS = 3
STABILITY_TOLERANCE = 0.10


@dataclass(frozen=True)
class MeasureSettings:
    """How long a trial warms up and how its windows run."""

    warmup_s: float = 1.0
    window_s: float = 1.0
    min_windows: int = STABLE_WINDOWS
    max_windows: int = 6
    tolerance: float = STABILITY_TOLERANCE

    def __post_init__(self) -> None:
        for name in ("warmup_s", "window_s"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 3600:
                raise ConfigError(f"{name} must be a number of seconds in 0..3600, got {value!r}", field=name)
        if self.window_s <= 0:
            raise ConfigError(f"window_s must be > 0, got {self.window_s!r}", field="window_s")
        if not isinstance(self.min_windows, int) or self.min_windows < STABLE_WINDOWS:
            raise ConfigError(f"min_windows must be an integer >= {STABLE_WINDOWS}, got {self.min_windows!r}", field="min_windows")
        if not isinstance(self.max_windows, int) or self.max_windows < self.min_windows:
            raise ConfigError(
                f"max_windows must be an integer >= min_windows ({self.min_windows}), got {self.max_windows!r}",
                field="max_windows",
            )
        if not 0 < self.tolerance < 10:
            raise ConfigError(f"tolerance must be in (0, 10), got {self.tolerance!r}", field="tolerance")

    @property
    def min_trial_s(self) -> float:
        return self.warmup_s + self.min_windows * self.window_s

    @property
    def max_trial_s(self) -> float:
        return self.warmup_s + self.max_windows * self.window_s


@dataclass(frozen=True)
class Window:
    """What the engine measured over one period of a trial."""

    duration_s: float
    #: requests submitted in the period (the ones carried in from before are not counted)
    submitted: int
    succeeded: int
    failed: int
    rejected: int
    timed_out: int
    cancelled: int
    p50_ms: float
    p99_ms: float
    #: the period's latency histogram (kept to merge the stable windows)
    latency: LogHistogram | None = field(default=None, repr=False, compare=False)

    @property
    def finished(self) -> int:
        return self.succeeded + self.failed + self.rejected + self.timed_out + self.cancelled

    @property
    def errors(self) -> int:
        return self.finished - self.succeeded

    @property
    def throughput_rps(self) -> float:
        return self.succeeded / self.duration_s if self.duration_s > 0 else 0.0


def agree(values: Sequence[float], tolerance: float = STABILITY_TOLERANCE) -> bool:
    """The values lie within ``tolerance`` of each other: max <= min x (1 + tolerance)."""
    low, high = min(values), max(values)
    return high <= low * (1.0 + tolerance) if low > 0 else high == 0


def is_stable(windows: Sequence[Window], tolerance: float = STABILITY_TOLERANCE, count: int = STABLE_WINDOWS) -> bool:
    """The last ``count`` windows agree in throughput and in P99 (perf_analyzer's rule)."""
    if len(windows) < count:
        return False
    last = windows[-count:]
    return agree([w.throughput_rps for w in last], tolerance) and agree([w.p99_ms for w in last], tolerance)


@dataclass(frozen=True)
class Measurement:
    """A trial's result: its windows, and the figures of its last stable windows merged."""

    warmup: Window
    windows: tuple[Window, ...]
    stable: bool
    throughput_rps: float
    p50_ms: float
    p99_ms: float
    #: succeeded / finished over every measured window (warm-up excluded); 0.0 if none finished
    success: float
    #: ended before stability or the cap because the outcome was already clear (``give_up``)
    cut: bool = False

    @property
    def periods(self) -> tuple[Window, ...]:
        return (self.warmup, *self.windows)

    @property
    def duration_s(self) -> float:
        return sum(p.duration_s for p in self.periods)

    @property
    def errors(self) -> int:
        return sum(w.errors for w in self.windows)

    @classmethod
    def from_windows(
        cls, warmup: Window, windows: Sequence[Window], stable: bool, count: int = STABLE_WINDOWS, *, cut: bool = False
    ) -> Measurement:
        last = list(windows[-count:]) if stable else list(windows)
        merged = LogHistogram()
        for window in last:
            if window.latency is not None:
                merged.merge(window.latency)
        if merged.count:
            p50, p99 = merged.percentiles((50.0, 99.0))
        else:  # synthetic windows without histograms: the mean of theirs
            p50 = sum(w.p50_ms for w in last) / len(last) if last else 0.0
            p99 = sum(w.p99_ms for w in last) / len(last) if last else 0.0
        span = sum(w.duration_s for w in last)
        finished = sum(w.finished for w in windows)
        return cls(
            warmup=warmup,
            windows=tuple(windows),
            stable=stable,
            throughput_rps=sum(w.succeeded for w in last) / span if span > 0 else 0.0,
            p50_ms=p50,
            p99_ms=p99,
            success=sum(w.succeeded for w in windows) / finished if finished else 0.0,
            cut=cut,
        )


class WindowReader:
    """Cuts the engine's measurements into consecutive periods (see the module docstring).

    ``take()`` ends the current period and starts the next.  The first period starts
    when the reader is made, which resets the engine's metrics.
    """

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        #: every period taken so far, in order (the accounting of the whole session)
        self.periods: list[Window] = []
        self._since = engine.clock()
        self._carried = self._reset()

    def _reset(self) -> int:
        """Reset the engine's metrics; the requests in flight, carried into the next period."""
        self.engine.reset_metrics()
        return self.engine.monitor.outcomes().in_flight

    def take(self) -> Window:
        monitor = self.engine.monitor
        now = self.engine.clock()
        outcomes = monitor.outcomes()
        latency = LogHistogram()
        latency.merge(monitor.latency)
        carried_in, self._carried = self._carried, self._reset()  # same loop turn as the read
        p50, p99 = latency.percentiles((50.0, 99.0))
        window = Window(
            duration_s=max(now - self._since, 0.0),
            submitted=outcomes.submitted - carried_in,
            succeeded=outcomes.succeeded,
            failed=outcomes.failed,
            rejected=outcomes.rejected,
            timed_out=outcomes.timed_out,
            cancelled=outcomes.cancelled,
            p50_ms=p50,
            p99_ms=p99,
            latency=latency,
        )
        self._since = now
        self.periods.append(window)
        return window

    @property
    def in_flight(self) -> int:
        """Requests submitted and not finished, as of the last period boundary."""
        return self._carried


Sleep = Callable[[float], Awaitable[Any]]


async def measure(
    engine: Any,
    reader: WindowReader,
    config: OptimizationConfig,
    settings: MeasureSettings,
    *,
    sleep: Sleep = asyncio.sleep,
    give_up: Callable[[Sequence[Window]], bool] | None = None,
) -> Measurement:
    """Switch ``engine`` to ``config`` live, warm up, then measure windows until stable or the cap."""
    engine.reconfigure(config)
    return await measure_steady(reader, settings, sleep=sleep, give_up=give_up)


async def measure_steady(
    reader: WindowReader,
    settings: MeasureSettings,
    *,
    sleep: Sleep = asyncio.sleep,
    give_up: Callable[[Sequence[Window]], bool] | None = None,
) -> Measurement:
    """Warm up, then measure windows until stable, the cap, or ``give_up(windows)`` says the
    outcome is already known (capacity stops a clearly overloaded rate early: its backlog
    only grows).  Whatever changed before the call (a config, a rate) is what is measured."""
    # the warm-up period runs from the end of the previous trial's last window
    await sleep(settings.warmup_s)
    warmup = reader.take()
    windows: list[Window] = []
    stable = cut = False
    while len(windows) < settings.max_windows:
        await sleep(settings.window_s)
        windows.append(reader.take())
        if len(windows) >= settings.min_windows and is_stable(windows, settings.tolerance):
            stable = True
            break
        if give_up is not None and len(windows) < settings.max_windows and give_up(windows):
            cut = True
            break
    return Measurement.from_windows(warmup, windows, stable, cut=cut)
