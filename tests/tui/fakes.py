"""FakeControls: an :class:`EngineControls` that answers at once and records what it was asked.

The dashboard's key tests drive this instead of a live engine, so each takes a fraction of a
second: the assertion is "this key made this call with these arguments, and the screen shows
the answer".  What the engine then does with the call is checked against a real engine in
``tests/engine`` and by the few ``live_engine`` tests in ``test_bindings.py``.

What it models, and how faithfully:

* **config**: a real :class:`OptimizationConfig`.  :meth:`update` goes through
  :meth:`OptimizationConfig.replace`, so a refused value raises the real
  :class:`ConfigError` with the real message and changes nothing.  Like a running
  :class:`ClawletEngine` it refuses a ``blas_threads`` change (same message; the engine's own
  rule is tested in ``tests/engine/test_engine.py``);
* **snapshots**: the last snapshot of the recorded stream (``fixtures/stream.jsonl``) with
  the fake's config, manual-GC count, outcomes, running flag and the events it logged
  (config changes, cache cleared, metrics reset, load changes), as the engine logs them;
* **load**: paused, target rate or clients, and what was sent (bursts count) are plain
  attributes; :meth:`view` and :meth:`stats` report them as a live run does;
* **stop**: drains, as the real one promises: the requests in flight count as succeeded;
* **tuning**: the real :class:`LiveTuning` (its search, incumbent, apply and restore) on
  this fake's config, with each trial "measured" at once on :func:`synthetic_measurement`
  (a known surface with an optimum and a faster config that breaks the SLO), so a whole
  search runs in a few turns of the test's loop.

It has no clock, no threads and no tasks: every answer is ready when the call returns.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from clawlet_tui.engine.config import OptimizationConfig
from clawlet_tui.engine.errors import ConfigError, PresetError
from clawlet_tui.engine.snapshot import EngineEvent, MetricsSnapshot, Outcomes
from clawlet_tui.load import LoadStats
from clawlet_tui.tui.live import LoadView
from clawlet_tui.tui.live_tuning import LiveTuning, TuningView
from clawlet_tui.tui.replay import RecordedStream
from clawlet_tui.tune.measure import Measurement, Window
from clawlet_tui.tune.objective import Objective
from clawlet_tui.tune.space import DEFAULT_PARAMS

STREAM = Path(__file__).parent / "fixtures" / "stream.jsonl"


class Call(NamedTuple):
    """One control the dashboard called: its name and arguments."""

    name: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = {}


@functools.cache
def recorded_snapshots() -> tuple[MetricsSnapshot, ...]:
    """The recorded stream, parsed once per session (snapshots are immutable; parsing the
    file takes longer than many a test)."""
    return RecordedStream.from_jsonl(STREAM).snapshots


def recorded_snapshot() -> MetricsSnapshot:
    """The last snapshot of the recorded stream: a busy run with every panel filled."""
    return recorded_snapshots()[-1]


class FakeControls:
    """An in-memory :class:`EngineControls` for ``preset`` (a :class:`Preset`).

    ``presets``: what :meth:`switch_preset` may switch to, by name (default: ``preset`` only).
    ``calls`` lists every control called, in order; reads (snapshot, view, config, ...) are
    not recorded, since the dashboard polls them on every refresh.
    """

    def __init__(
        self,
        preset: Any,
        presets: Mapping[str, Any] | None = None,
        base: MetricsSnapshot | None = None,
    ) -> None:
        self._presets = dict(presets) if presets is not None else {preset.name: preset}
        self._base = base or recorded_snapshot()
        self.calls: list[Call] = []
        self._config: OptimizationConfig = preset.config
        self._preset = preset
        self._outcomes: Outcomes = self._base.outcomes
        self._manual_gc = self._base.memory.manual_gc
        self._events: list[EngineEvent] = list(self._base.events)
        self._running = False
        self._paused = False
        self._sent = 0
        self._target_rps, self._clients = _load_of(preset)
        self.started = False
        self.stopped = False
        #: what :attr:`problem` says; a test sets it to play an engine that stopped answering
        self.problem_text: str | None = None
        self._tuning: LiveTuning | None = None

    def _record(self, name: str, *args: Any, **kwargs: Any) -> None:
        self.calls.append(Call(name, args, kwargs))

    def names(self) -> list[str]:
        """The names of the controls called, in order."""
        return [call.name for call in self.calls]

    def _log_event(self, kind: str, message: str) -> None:
        seq = self._events[-1].seq + 1 if self._events else 1
        self._events.append(EngineEvent(seq, self._base.uptime_s, kind, message))

    # -- lifecycle

    async def start(self) -> None:
        self._record("start")
        self.started = self._running = True

    async def stop(self) -> None:
        self._record("stop")
        if self.stopped:
            return
        self.stopped = True
        self._running = False
        o = self._outcomes
        self._outcomes = dataclasses.replace(o, succeeded=o.succeeded + o.in_flight)

    @property
    def problem(self) -> str | None:
        return self.problem_text

    # -- reading

    def snapshot(self) -> MetricsSnapshot:
        base = self._base
        return dataclasses.replace(
            base,
            running=self._running,
            config=self._config,
            outcomes=self._outcomes,
            memory=dataclasses.replace(base.memory, manual_gc=self._manual_gc),
            events=tuple(self._events),
        )

    def view(self) -> LoadView:
        stats = self.stats()
        return LoadView(
            preset=self.preset_name,
            description=stats.description,
            mode=stats.mode,
            target_rps=self._target_rps,
            clients=self._clients,
            sent=stats.sent,
            completed=stats.completed,
            outstanding=stats.outstanding,
            paused=self._paused,
            slo_p99_ms=self._preset.slo_p99_ms,
        )

    def stats(self) -> LoadStats:
        return LoadStats(
            description=self._preset.load.describe(),
            mode="open" if self.open_loop else "closed",
            sent=self._sent,
            completed=self._sent,
            target_rps=0.0 if self._paused else (self._target_rps or 0.0),
            concurrency=self._clients,
            paused=self._paused,
        )

    @property
    def config(self) -> OptimizationConfig:
        return self._config

    @property
    def preset(self) -> Any:
        return self._preset

    @property
    def preset_name(self) -> str:
        return str(self._preset.name)

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def open_loop(self) -> bool:
        return self._target_rps is not None

    @property
    def target_rps(self) -> float | None:
        return self._target_rps

    @property
    def clients(self) -> int | None:
        return self._clients

    # -- engine controls

    def update(self, **changes: Any) -> OptimizationConfig:
        self._record("update", **changes)
        new = self._config.replace(**changes)  # the real validation: ConfigError, nothing changed
        if self._running and new.blas_threads != self._config.blas_threads:
            raise ConfigError(
                f"blas_threads cannot change while the engine runs (it is {self._config.blas_threads}); "
                "set it in the preset or with --set",
                field="blas_threads",
            )
        old, self._config = self._config, new
        changed = old.changed_fields(new)
        if changed:
            self._log_event("config", ", ".join(f"{k} {a!r} -> {b!r}" for k, (a, b) in changed.items()))
        return new

    def trigger_gc(self) -> None:
        self._record("trigger_gc")
        self._manual_gc += 1
        self._log_event("gc", "manual: collected 0 objects")

    def clear_cache(self) -> None:
        self._record("clear_cache")
        self._log_event("cache", "cache cleared")

    def reset_metrics(self) -> None:
        self._record("reset_metrics")
        self._log_event("metrics", "metrics reset")

    def log(self, kind: str, message: str) -> None:
        self._record("log", kind, message)
        self._log_event(kind, message)

    async def warm_up(self) -> int:
        """Warms at once: the preset's ``[warmup]`` keys, else as many as L1 holds."""
        from clawlet_tui.load.warmup import plan_for

        self._record("warm_up")
        plan = plan_for(self._preset, self._config.l1_cache_size)
        self._log_event("warmup", f"warmed {plan.describe()}")
        self._log_event("metrics", "metrics reset")
        return len(plan.keys)

    # -- load controls

    async def toggle_pause(self) -> bool:
        self._record("toggle_pause")
        self._paused = not self._paused
        return self._paused

    async def burst(self, n: int) -> int:
        self._record("burst", n)
        self._sent += n
        o = self._outcomes
        self._outcomes = dataclasses.replace(o, submitted=o.submitted + n)  # in flight until stop
        return n

    async def set_rate(self, rps: float) -> None:
        self._record("set_rate", rps)
        if self.open_loop:
            self._target_rps = float(rps)
        else:
            self._clients = round(rps)

    async def switch_preset(self, name: str) -> bool:
        self._record("switch_preset", name)
        try:
            preset = self._presets[name]
        except KeyError:
            raise PresetError(f"unknown preset {name!r}") from None
        rebuilt = dict(preset.model_spec or {}) != dict(self._preset.model_spec or {})
        self._preset, self._config = preset, preset.config
        self._target_rps, self._clients = _load_of(preset)
        self._sent, self._paused = 0, False
        return rebuilt

    # -- tuning

    @property
    def tuning(self) -> TuningView | None:
        return None if self._tuning is None else self._tuning.view()

    async def start_tuning(
        self, slo_p99_ms: float, budget_s: float = 120.0, params: tuple[str, ...] = DEFAULT_PARAMS, settings: Any = None
    ) -> TuningView:
        self._record("start_tuning", slo_p99_ms, budget_s)
        objective = Objective.for_load(slo_p99_ms, "open" if self.open_loop else "closed")

        async def measure_trial(config: OptimizationConfig) -> Measurement:
            self._config = config  # the trial's config is on while it is measured, as on the engine
            return synthetic_measurement(config)

        self._tuning = LiveTuning(
            _EngineSide(self), objective, params=params, budget_s=budget_s, clock=lambda: 0.0, measure_trial=measure_trial
        )
        await self._tuning.start()
        return self._tuning.view()

    async def stop_tuning(self) -> OptimizationConfig:
        self._record("stop_tuning")
        assert self._tuning is not None
        return await self._tuning.stop()

    async def apply_tuning(self) -> OptimizationConfig:
        self._record("apply_tuning")
        assert self._tuning is not None
        return await self._tuning.apply()


class _EngineSide:
    """What :class:`LiveTuning` reads and calls on an engine, served by a :class:`FakeControls`."""

    def __init__(self, fake: FakeControls) -> None:
        self.fake = fake

    @property
    def config(self) -> OptimizationConfig:
        return self.fake._config

    def reconfigure(self, config: OptimizationConfig) -> None:
        self.fake._config = config

    def log_event(self, kind: str, message: str) -> None:
        self.fake._log_event(kind, message)


def synthetic_measurement(config: OptimizationConfig) -> Measurement:
    """A known surface: throughput = 100 x batch size (to 32) x workers (to 2) req/s, P99 =
    2 x batch size + 4 ms, every request successful, other fields no effect.  Under the
    test presets' SLO (20 ms) the best closed-loop config is ``batch_size=8``,
    ``max_concurrent=2`` (1600 req/s, P99 20 ms); ``batch_size=16`` is twice as fast and
    misses the SLO."""
    bs, workers = config.batch_size, config.max_concurrent
    throughput = 100.0 * min(bs, 32) * min(workers, 2)
    p99 = 2.0 * bs + 4.0
    n = int(throughput)
    window = Window(duration_s=1.0, submitted=n, succeeded=n, failed=0, rejected=0, timed_out=0, cancelled=0,
                    p50_ms=p99 / 2, p99_ms=p99)
    return Measurement.from_windows(window, (window, window, window), stable=True)


def _load_of(preset: Any) -> tuple[float | None, int | None]:
    """``(target_rps, clients)`` of a preset's load: one of them is None."""
    load = preset.load
    if load.mode == "closed":
        return None, load.concurrency
    return float(load.rate_rps), None
