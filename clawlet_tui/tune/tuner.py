"""A tuning session: one live engine, the preset's load running throughout, a search over configs.

:func:`tune` builds the preset's model and engine (as :func:`clawlet_tui.runner.run_preset`
does), starts the engine **once** and the preset's load on it, and lets the hill climb
(:mod:`.search`) move the engine between configs with ``reconfigure``; each config is a
trial measured by :func:`.measure.measure`.  Guarantees:

* the engine is started once and stopped once; nothing restarts it between trials;
* the load runs from the first trial to the last without a break, so a trial is
  measured under the same load as every other (its duration is stretched to outlast
  the budget; its rate, shape, keys and model are the preset's);
* every request the load sent ends in one outcome, and every outcome falls in exactly
  one period (a trial's warm-up or window, or the final drain):
  :attr:`TuneResult.accounted` checks both against the load generator's own counts;
* no trial starts unless it fits in what is left of ``budget_s`` (at its longest) and
  under ``max_trials``; a search trial also leaves room for the final re-measurement
  of the best; the engine and the load are stopped (drained) on every exit.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..engine.config import OptimizationConfig
from ..engine.errors import ConfigError
from ..stop_signals import absorb_cancellation
from .capacity import DEFAULT_START_RPS, CapacityTarget, RateSearch, RateSearchResult
from .capacity_live import LiveRates, RateMeasurement, default_start_rps, open_loop_profile
from .measure import Measurement, MeasureSettings, WindowReader, measure
from .objective import Estimate, Measured, Objective
from .racing import clearly_decided
from .search import METHODS, REMEASURE, SEARCH, SearchResult
from .space import DEFAULT_PARAMS, Point, SearchSpace

#: open-loop shapes with a steady rate (a trial must see the same load as every other)
STEADY_SHAPES = ("constant", "poisson", "bursts")
DEFAULT_BUDGET_S = 120.0
#: the role of the start config's measurement after the search
START_END = "start-end"
DEFAULT_CAPACITY_BUDGET_S = 600.0
#: seconds the engine may take to finish what it holds when the session ends
DRAIN_TIMEOUT_S = 10.0
#: ``--objective capacity``: rates measured per config at most, and how close the search
#: brackets each config's capacity (coarser than ``capacity``'s 5%: the climb compares
#: configs, and its margin is 5% too)
CAPACITY_STEPS_PER_TRIAL = 6
CAPACITY_TRIAL_RESOLUTION = 0.10


@dataclass(frozen=True)
class Trial:
    number: int
    #: "start", "search" or "re-measure"
    role: str
    point: Point
    config: OptimizationConfig
    measurement: Measurement
    #: this measurement met the SLO with every request successful
    meets_slo: bool
    #: seconds since the session started, when the trial ended
    ended_at_s: float
    #: ``--objective capacity``: the config's rate search (``measurement`` is the one at
    #: its capacity rate, or at its lowest rate when none was sustained)
    capacity: RateSearchResult | None = None

    @property
    def figure_rps(self) -> float:
        """What the objective ranks: the capacity found, or the measured throughput."""
        if self.capacity is not None:
            return self.capacity.capacity_rps or 0.0
        return self.measurement.throughput_rps


@dataclass(frozen=True)
class TuneResult:
    preset: Any
    objective: Objective
    params: tuple[str, ...]
    settings: MeasureSettings
    budget_s: float
    trials: tuple[Trial, ...]
    search: SearchResult
    #: "hill" or "grid"
    method: str
    start_point: Point
    start_config: OptimizationConfig
    #: the chosen config (None when no trial met the SLO)
    best_config: OptimizationConfig | None
    load_description: str
    model_description: str
    wall_s: float
    #: the load generator's counts at the end: sent, completed, failed
    sent: int
    completed: int
    failed: int
    #: outcomes counted by the engine over every period of the session
    finished_in_periods: int
    #: the start config measured again after the search (None when the budget left no room)
    start_again: Measured | None = None
    #: the chosen config did not beat the start config measured again by the margin: keep it
    kept_start: bool = False
    #: Ctrl+C or SIGTERM stopped the session; the result is the best so far
    interrupted: bool = False

    @property
    def best_point(self) -> Point | None:
        if self.kept_start:
            return self.start_point
        return self.search.best

    def estimate(self, point: Point) -> Estimate:
        return dict(self.search.estimates)[point]

    @property
    def start_estimate(self) -> Estimate | None:
        """The start config's figures for the improvement: its measurement after the search
        when there is one (the first was taken on a cold cache), else its pooled estimate;
        None when a signal stopped the session before the start config was measured."""
        if self.start_again is not None:
            return self.objective.estimate([self.start_again])
        if self.start_point not in dict(self.search.estimates):
            return None
        return self.estimate(self.start_point)

    @property
    def best_estimate(self) -> Estimate | None:
        return None if self.best_point is None else self.estimate(self.best_point)

    @property
    def accounted(self) -> bool:
        """Every request sent ended in one outcome, and every outcome fell in one period."""
        return self.sent == self.completed + self.failed == self.finished_in_periods


def check_load(preset: Any, goal: str = "throughput") -> None:
    """A tune needs a steady load; ConfigError (one line) for a ramp, steps or a sine.

    ``capacity`` sets the rate itself (any preset's keys and model, as poisson arrivals)."""
    load = preset.load
    if goal != "capacity" and load.mode == "open" and load.shape not in STEADY_SHAPES:
        raise ConfigError(
            f"preset {preset.name!r}: tune needs a load whose rate does not change over time "
            f"(shape {load.shape!r} does); use a constant, poisson or closed-loop preset",
            field="load.shape",
        )


def check_budget(budget_s: float, settings: MeasureSettings, goal: str = "throughput") -> None:
    """At least two shortest trials (the start config and one more) must fit; for
    ``capacity`` a trial is at least two rates (one passing, one failing)."""
    if not isinstance(budget_s, (int, float)) or isinstance(budget_s, bool) or not budget_s == budget_s:
        raise ConfigError(f"--budget must be a number of seconds, got {budget_s!r}", field="budget")
    rates = 2 if goal == "capacity" else 1
    least = 2 * rates * settings.min_trial_s
    if not least <= budget_s <= 7 * 86400:
        each = f"{rates} rates of " if rates > 1 else ""
        raise ConfigError(
            f"--budget must be at least {least:g} s (two trials of {each}{settings.warmup_s:g} s warm-up + "
            f"{settings.min_windows} windows of {settings.window_s:g} s), got {budget_s:g}",
            field="budget",
        )


def trial_max_s(settings: MeasureSettings, goal: str) -> float:
    """The longest a trial can take (drains after an overloaded rate aside)."""
    return settings.max_trial_s * (CAPACITY_STEPS_PER_TRIAL if goal == "capacity" else 1)


async def tune(
    preset: Any,
    objective: Objective,
    *,
    params: tuple[str, ...] = DEFAULT_PARAMS,
    budget_s: float = DEFAULT_BUDGET_S,
    settings: MeasureSettings | None = None,
    margin: float = 0.05,
    max_trials: int | None = None,
    overrides: dict[str, Any] | None = None,
    on_trial: Callable[[Trial], None] | None = None,
    engine_class: type | None = None,
    method: str = "hill",
    clock: Callable[[], float] = time.monotonic,
) -> TuneResult:
    """Tune ``preset``'s engine config under its own load; see the module docstring.

    ``method`` is ``"hill"`` (the noise-aware hill climb) or ``"grid"`` (every point once,
    the reference).  ``engine_class`` (default :class:`ClawletEngine`) lets a test count
    starts and reconfigures.  Raises ConfigError for a bad preset/params/budget before anything starts.
    """
    from ..load import LoadGenerator
    from ..session import build_session, resolve_config

    settings = settings or MeasureSettings()
    capacity = objective.goal == "capacity"
    check_load(preset, objective.goal)
    check_budget(budget_s, settings, objective.goal)
    longest_trial_s = trial_max_s(settings, objective.goal)
    start_config = resolve_config(preset, overrides)
    space = SearchSpace(start_config, params)
    if method not in METHODS:
        raise ConfigError(f"--search must be one of {', '.join(METHODS)}, got {method!r}", field="search")
    search = METHODS[method](space, objective, margin=margin)
    load_s = budget_s + longest_trial_s + 600.0
    #: capacity: each config's rate search starts from the best capacity so far
    rate_hint = [default_start_rps(preset) if preset.load.mode == "open" else DEFAULT_START_RPS]

    def outlasting_load(engine: Any, profile: Any, model: Any) -> LoadGenerator:
        # the preset's load, stretched to outlast every trial: it flows across reconfigures
        if capacity:  # open loop, its rate set by each rate search
            return LoadGenerator(engine, open_loop_profile(profile, rate_hint[0], load_s), model=model)
        return LoadGenerator(engine, dataclasses.replace(profile, duration_s=load_s, requests=None), model=model)

    def counted_engine(config: OptimizationConfig, model: Any) -> Any:
        assert engine_class is not None
        return engine_class(config=config, model=model)

    began = clock()
    deadline = began + budget_s
    trials: list[Trial] = []
    interrupted = False

    # built as `run` builds it (one builder: session.py), with its temporary L2 directory
    with build_session(
        preset, overrides=overrides, engine_factory=counted_engine if engine_class is not None else None,
        generator_factory=outlasting_load,
    ) as session:
        engine, generator, model = session.engine, session.generator, session.model
        await engine.start()
        try:
            reader = WindowReader(engine)
            await generator.start()

            async def measure_capacity(config: OptimizationConfig) -> tuple[Measurement, RateSearchResult]:
                engine.reconfigure(config)
                target = CapacityTarget(objective.slo_p99_ms)
                rates = RateSearch(
                    target, start_rps=rate_hint[0], resolution=CAPACITY_TRIAL_RESOLUTION,
                    max_steps=CAPACITY_STEPS_PER_TRIAL, confirm=False, clock=clock,
                )
                found = await rates.run(LiveRates(engine, generator, reader, target, settings))
                if found.capacity_rps is not None:
                    rate_hint[0] = max(rate_hint[0], found.capacity_rps)
                    at = next(st for st in reversed(found.steps) if st.rate_rps == found.capacity_rps)
                else:
                    at = min(found.steps, key=lambda st: st.rate_rps)
                assert isinstance(at.measured, RateMeasurement)
                return at.measured.measurement, found

            async def evaluate(point: Point, role: str) -> Measured:
                config = space.config(point).replace(l2_cache_dir=engine.config.l2_cache_dir)
                engine.log_event("tune", f"trial {len(trials) + 1} ({role}): {dict(point)}")
                found: RateSearchResult | None = None
                if capacity:
                    result, found = await measure_capacity(config)
                    figures: Measured = CapacityFigures(found.capacity_rps or 0.0, result.p99_ms, result.success)
                else:
                    give_up = None
                    trial_settings = settings
                    leader = search.best_point()
                    if method == "hill" and role == SEARCH and leader is not None:
                        give_up = clearly_decided(objective, search.estimate(leader), settings, margin)
                    if role in (REMEASURE, START_END):
                        # a second measurement, pooled with the first: it is there to catch a
                        # lucky first one, which perf_analyzer's three windows do; past them an
                        # unstable config stays unstable, and the windows only cost time.  The
                        # start config measured again at the end is the same kind of check.
                        trial_settings = dataclasses.replace(settings, max_windows=settings.min_windows)
                    result = await measure(engine, reader, config, trial_settings, give_up=give_up)
                    figures = result
                trial = Trial(
                    len(trials) + 1, role, point, config, result, objective.meets(figures), clock() - began, capacity=found
                )
                trials.append(trial)
                if on_trial is not None:
                    on_trial(trial)
                return figures

            def can_start() -> bool:
                if max_trials is not None and len(trials) >= max_trials:
                    return False
                # the start config is always measured: it is what the others are compared with;
                # a search trial leaves room for two more, to re-measure the best and then the
                # start config at the end
                return not trials or clock() + 3 * longest_trial_s <= deadline

            def can_confirm() -> bool:
                within_cap = max_trials is None or len(trials) < max_trials
                return within_cap and clock() + longest_trial_s <= deadline

            start_again: Measured | None = None
            kept_start = False
            try:
                outcome = await search.run(evaluate, can_start, can_confirm)
                if outcome.best is not None and outcome.best != space.start and can_confirm():
                    # the start config was measured first, on a cold cache and a cold cost fit;
                    # the improvement is stated against it measured again, as warm as the best
                    start_again = await evaluate(space.start, START_END)
                    best_value = objective.value(dict(outcome.estimates)[outcome.best])
                    start_value = objective.value(objective.estimate([start_again]))
                    # the search's winner must still beat the start config by the margin it had
                    # to beat its neighbours by; otherwise the difference is noise: keep the start
                    kept_start = objective.meets(start_again) and best_value <= start_value + margin * abs(start_value)
            except (asyncio.CancelledError, KeyboardInterrupt):
                # Ctrl+C / SIGTERM: keep every trial measured so far; the clean-up below
                # stops the load and drains the engine, so nothing sent is lost
                interrupted = True
                absorb_cancellation()
                outcome = search.result("interrupted")
                start_again, kept_start = None, False
        finally:
            try:
                await generator.stop(timeout_s=DRAIN_TIMEOUT_S + 1.0)
            finally:
                await engine.stop(drain_timeout_s=DRAIN_TIMEOUT_S)
        reader.take()  # the drain: whatever finished after the last window
        stats = generator.stats()
        finished = sum(p.finished for p in reader.periods)

    best_config = None if outcome.best is None else space.config(space.start if kept_start else outcome.best)
    return TuneResult(
        preset=preset,
        objective=objective,
        params=space.names,
        settings=settings,
        budget_s=budget_s,
        trials=tuple(trials),
        search=outcome,
        method=method,
        start_point=space.start,
        start_config=start_config,
        best_config=best_config,
        load_description=preset.load.describe(),
        model_description=model.describe(),
        wall_s=clock() - began,
        sent=stats.sent,
        completed=stats.completed,
        failed=stats.failed_total,
        finished_in_periods=finished,
        start_again=start_again,
        kept_start=kept_start,
        interrupted=interrupted,
    )


@dataclass(frozen=True)
class CapacityFigures:
    """What the search ranks a config by under ``--objective capacity``."""

    #: the capacity found (0 when no rate was sustained)
    throughput_rps: float
    #: P99 and success at that rate (at the lowest rate tried when none was sustained)
    p99_ms: float
    success: float


__all__ = ["DEFAULT_BUDGET_S", "DEFAULT_CAPACITY_BUDGET_S", "STEADY_SHAPES", "Trial", "TuneResult", "check_budget", "check_load", "tune"]
