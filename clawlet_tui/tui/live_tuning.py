"""Tuning the dashboard's running engine: ``clawlet-tui tune``'s hill climb, live, on key ``a``.

Where it runs.  :class:`LiveTuning` runs **next to the engine**: a task on the engine's own
event loop (in the engine process behind ``clawlet-tui``; on the engine thread with
``--in-process``).  The dashboard only starts it, reads the :class:`TuningView` it
publishes (pushed with every :class:`~.engine_child.EngineState`), and asks it to stop or
to apply.  Not the other way round (the app driving ``reconfigure`` and reading
snapshots over the pipe) because:

* the measurements must be the engine's own: a window is cut with
  :class:`~clawlet_tui.tune.measure.WindowReader`, which reads the monitor and resets it
  *in one turn of the engine's loop*, so no request falls between two windows.  Over the
  pipe the read and the reset would be two calls with requests finishing in between;
* a window's length must be the engine's time, not the UI's: the UI's loop stalls for a
  whole frame (100-150 ms at 160x48), which would stretch a 1 s window by 10-15%, more
  than the 10% the stability rule accepts;
* the UI never blocks the engine: the climb costs the engine's loop one sleep and one
  monitor read per window, and a UI that hangs, or quits, changes nothing in a trial.

Guarantees:

* the config the tuning started from is restored when it is stopped (:meth:`stop`), when
  it ends on its own, and when it fails; only :meth:`apply` leaves another config on;
* :meth:`apply` applies only a config whose every measurement met the SLO with every
  request successful (the search's best *feasible* point); when there is none it raises
  and changes nothing (a running search goes on);
* every trial is a line in the engine's event log (``tune``), with its figures;
* the load is never touched: every request it sends ends in one outcome as usual, and the
  windows (:attr:`LiveTuning.periods`) partition every outcome from the start of the
  tuning to its end;
* :meth:`view` may be called from any thread: it reads only immutable values that the
  engine loop replaces whole.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..engine.config import OptimizationConfig
from ..engine.errors import ClawletError
from ..tune.measure import Measurement, MeasureSettings, Window, WindowReader, measure
from ..tune.objective import Objective
from ..tune.search import HillClimb
from ..tune.space import DEFAULT_PARAMS, Point, SearchSpace, describe_point
from ..tune.tuner import DEFAULT_BUDGET_S, check_budget

#: states of a tuning: trials running; ended on its own; stopped (start config back); best applied; failed
RUNNING, DONE, STOPPED, APPLIED, FAILED = "running", "done", "stopped", "applied", "failed"

#: one trial: switch the engine to a config, measure it (the default: :func:`~clawlet_tui.tune.measure.measure`)
MeasureTrial = Callable[[OptimizationConfig], Awaitable[Measurement]]


@dataclass(frozen=True)
class TrialRow:
    """One finished trial, as the tuning view shows it (figures are the trial's measurement)."""

    number: int
    #: "start", "search" or "re-measure"
    role: str
    point: Point
    throughput_rps: float
    p50_ms: float
    p99_ms: float
    success: float
    meets_slo: bool
    stable: bool
    windows: int
    #: seconds since the tuning started, when the trial ended
    ended_at_s: float

    @property
    def summary(self) -> str:
        """``bs=16 timeout=5ms policy=adaptive workers=4 l1=100``."""
        return describe_point(self.point)


@dataclass(frozen=True)
class TuningView:
    """What the tuning view shows, as of one moment (immutable; pickled across the pipe)."""

    state: str
    slo_p99_ms: float
    #: the objective in words (closed loop: highest throughput within the SLO; open: lowest P99)
    objective: str
    budget_s: float
    elapsed_s: float
    trials: tuple[TrialRow, ...]
    start: Point
    #: the leading config so far: the best feasible one, else the one closest to the SLO
    incumbent: Point | None = None
    #: the incumbent met the SLO in every one of its measurements (only such a config is applied)
    incumbent_feasible: bool = False
    #: pooled over its measurements
    incumbent_throughput_rps: float = 0.0
    incumbent_p99_ms: float = 0.0
    #: points in the search space
    space_size: int = 0
    #: one line on how it ended (empty while running)
    message: str = ""

    @property
    def running(self) -> bool:
        return self.state == RUNNING

    @property
    def can_apply(self) -> bool:
        return self.incumbent is not None and self.incumbent_feasible and self.state in (RUNNING, DONE)


class LiveTuning:
    """The hill climb of ``clawlet-tui tune`` on an engine that is already running its load.

    Make it anywhere; :meth:`start`, :meth:`stop` and :meth:`apply` must run on the
    engine's loop (``EngineHost.run``).  ``measure_trial`` replaces the real measurement
    (tests drive a synthetic objective with it); ``clock`` tells the budget's time.
    """

    def __init__(
        self,
        engine: Any,
        objective: Objective,
        *,
        params: tuple[str, ...] = DEFAULT_PARAMS,
        budget_s: float = DEFAULT_BUDGET_S,
        settings: MeasureSettings | None = None,
        margin: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
        measure_trial: MeasureTrial | None = None,
    ) -> None:
        self.settings = settings or MeasureSettings()
        check_budget(budget_s, self.settings)
        self.engine = engine
        self.objective = objective
        self.budget_s = float(budget_s)
        self.clock = clock
        #: the config the engine ran when tuning started: restored on stop, end or failure
        self.start_config: OptimizationConfig = engine.config
        self.space = SearchSpace(self.start_config, params)
        self.search = HillClimb(self.space, objective, margin=margin)
        self._measure_trial = measure_trial
        self._reader: WindowReader | None = None
        self._task: asyncio.Task[None] | None = None
        self._began: float | None = None
        self._ended_s: float | None = None
        # replaced whole on the engine loop; read by view() from any thread
        self._rows: tuple[TrialRow, ...] = ()
        self._state = RUNNING
        self._message = ""
        self._incumbent: tuple[Point | None, bool, float, float] = (None, False, 0.0, 0.0)

    # -- reading (any thread) -------------------------------------------------------------

    @property
    def state(self) -> str:
        return self._state

    @property
    def periods(self) -> tuple[Window, ...]:
        """Every measured period so far (warm-ups and windows; the last one closed at the end)."""
        return tuple(self._reader.periods) if self._reader is not None else ()

    def elapsed_s(self) -> float:
        if self._began is None:
            return 0.0
        return self._ended_s if self._ended_s is not None else self.clock() - self._began

    def view(self) -> TuningView:
        incumbent, feasible, throughput, p99 = self._incumbent
        return TuningView(
            state=self._state,
            slo_p99_ms=self.objective.slo_p99_ms,
            objective=self.objective.describe(),
            budget_s=self.budget_s,
            elapsed_s=self.elapsed_s(),
            trials=self._rows,
            start=self.space.start,
            incumbent=incumbent,
            incumbent_feasible=feasible,
            incumbent_throughput_rps=throughput,
            incumbent_p99_ms=p99,
            space_size=self.space.size,
            message=self._message,
        )

    # -- control (on the engine loop) -----------------------------------------------------

    async def start(self) -> None:
        """Begin the trials as a task on the running (engine) loop; returns at once."""
        if self._task is not None:
            raise ClawletError("this tuning has already started")
        self._began = self.clock()
        if self._measure_trial is None:
            self._reader = WindowReader(_QuietResets(self.engine))
        self.engine.log_event(
            "tune", f"tuning started: {self.objective.describe()}; budget {self.budget_s:g} s, "
            f"{self.space.size} configs in the space"
        )
        self._task = asyncio.get_running_loop().create_task(self._run(), name="clawlet-live-tuning")

    async def stop(self) -> OptimizationConfig:
        """Stop the trials and put the start config back; returns it.  Safe to call again."""
        was_running = await self._halt()
        if self._state in (RUNNING, DONE):
            self._restore()
            self._end(STOPPED, "stopped: the start config is back on" if was_running else "closed: the start config stays on")
        return self.engine.config

    async def apply(self) -> OptimizationConfig:
        """Stop the trials and apply the best config that met the SLO; ClawletError if none did."""
        incumbent, feasible, throughput, p99 = self._incumbent
        if self._state not in (RUNNING, DONE):
            raise ClawletError(f"the tuning has {self._state}: nothing to apply")
        if incumbent is None or not feasible:
            lowest = min((r.p99_ms for r in self._rows if r.success >= 1.0 and r.throughput_rps > 0), default=None)
            reached = f" (lowest P99 so far {lowest:.2f} ms)" if lowest is not None else ""
            raise ClawletError(
                f"no config has met the SLO (P99 <= {self.objective.slo_p99_ms:g} ms, 100% success) yet{reached}; "
                "nothing applied"
            )
        await self._halt()
        incumbent, feasible, throughput, p99 = self._incumbent  # the trial cut short may have moved it
        if incumbent is None or not feasible:
            self._restore()
            self._end(STOPPED, "stopped: the best broke the SLO when measured again; the start config is back on")
            raise ClawletError(self._message)
        config = self.space.config(incumbent)
        self.engine.reconfigure(config)
        line = f"applied the best: {describe_point(incumbent)} ({throughput:.1f} req/s, P99 {p99:.2f} ms)"
        self.engine.log_event("tune", line)
        self._end(APPLIED, line)
        return config

    # -- the trials -----------------------------------------------------------------------

    async def _halt(self) -> bool:
        """Cancel the trials if they run; close the open period.  True if they were running."""
        task, running = self._task, self._task is not None and not self._task.done()
        if task is not None and running:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        self._close_period()
        return running

    def _close_period(self) -> None:
        # what finished since the last window (a trial cut short, or the time after the last
        # trial) is a period too, so the periods account for every outcome of the tuning
        if self._reader is not None and self._state == RUNNING:
            self._reader.take()

    def _restore(self) -> None:
        if self.engine.config != self.start_config:
            self.engine.reconfigure(self.start_config)

    def _end(self, state: str, message: str) -> None:
        self._ended_s = self.elapsed_s()
        self._state = state
        self._message = message

    async def _measure(self, config: OptimizationConfig) -> Measurement:
        if self._measure_trial is not None:
            return await self._measure_trial(config)
        assert self._reader is not None
        return await measure(self.engine, self._reader, config, self.settings)

    async def _evaluate(self, point: Point, role: str) -> Measurement:
        number = len(self._rows) + 1
        result = await self._measure(self.space.config(point))
        meets = self.objective.meets(result)
        row = TrialRow(
            number=number, role=role, point=point, throughput_rps=result.throughput_rps, p50_ms=result.p50_ms,
            p99_ms=result.p99_ms, success=result.success, meets_slo=meets, stable=result.stable,
            windows=len(result.windows), ended_at_s=self.clock() - (self._began or 0.0),
        )
        self.engine.log_event(
            "tune",
            f"trial {number} ({role}) {row.summary}: {row.throughput_rps:.1f} req/s, P99 {row.p99_ms:.2f} ms, "
            f"ok {row.success * 100:.1f}%, SLO {'met' if meets else 'missed'}",
        )
        self._rows = (*self._rows, row)
        return result

    def _update_incumbent(self) -> None:
        """After each trial (the search has recorded it): who leads, on pooled figures."""
        point = self.search.best_point(feasible_only=True) or self.search.best_point()
        if point is None:
            return
        estimate = self.search.estimate(point)
        self._incumbent = (point, estimate.feasible, estimate.throughput_rps, estimate.p99_ms)

    async def _run(self) -> None:
        deadline = (self._began or self.clock()) + self.budget_s
        longest = self.settings.max_trial_s

        async def evaluate(point: Point, role: str) -> Measurement:
            if self._rows:
                self._update_incumbent()  # the previous trial is in the search's results now
            return await self._evaluate(point, role)

        def can_start() -> bool:
            # the start config is always measured; a search trial leaves room to re-measure the best
            return not self._rows or self.clock() + 2 * longest <= deadline

        def can_confirm() -> bool:
            return self.clock() + longest <= deadline

        try:
            outcome = await self.search.run(evaluate, can_start, can_confirm)
        except asyncio.CancelledError:
            self._update_incumbent()  # the trials that finished before the cancel count
            raise
        except Exception as exc:  # a measurement failed: the start config goes back, the view says why
            self._close_period()
            self._restore()
            self._end(FAILED, f"failed: {type(exc).__name__}: {exc}; the start config is back on")
            self.engine.log_event("tune", self._message)
            return
        self._update_incumbent()
        self._close_period()
        self._restore()
        how = "converged (best re-measured)" if outcome.ended == "converged" else "budget spent"
        if outcome.best is None:
            lowest = min((r.p99_ms for r in self._rows if r.success >= 1.0 and r.throughput_rps > 0), default=None)
            reached = f"; lowest P99 {lowest:.2f} ms" if lowest is not None else ""
            message = f"{how}: no config met the SLO{reached}; the start config is back on"
        else:
            e = self.search.estimate(outcome.best)
            message = (f"{how}: best {describe_point(outcome.best)} ({e.throughput_rps:.1f} req/s, P99 "
                       f"{e.p99_ms:.2f} ms); the start config is back on until you apply it")
        self._end(DONE, message)
        self.engine.log_event("tune", f"{len(self._rows)} trials, {message}")


class _QuietResets:
    """The engine as :class:`WindowReader` sees it, except that its resets leave no event-log
    line: the reader resets once a window, and those lines would push every trial out of
    the dashboard's event log."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    def reset_metrics(self) -> None:
        self._engine.reset_metrics(log=False)


__all__ = ["APPLIED", "DONE", "FAILED", "RUNNING", "STOPPED", "LiveTuning", "TrialRow", "TuningView"]
