"""The live run the dashboard drives: one engine, one load generator, the preset they came from.

The dashboard never touches engine internals; it reads :meth:`ClawletEngine.snapshot` and
calls the handful of control methods this class wraps (:class:`~.controls.EngineControls`).
``clawlet-tui`` builds one inside its engine process (:mod:`.engine_process`);
``clawlet-tui --in-process`` and the tests use one directly.  Ownership is plain:

* :meth:`LiveRun.start` starts the engine, freezes the process's start-up objects out of
  the garbage collector's reach (:mod:`.gc_policy`: otherwise full collections over the
  dashboard's objects stall the engine for 60-120 ms), then starts the generator;
* :meth:`LiveRun.stop` stops the generator first (no new requests), then drains the
  engine (every pending request ends), and is safe to call twice;
* :meth:`LiveRun.switch_preset` stops the current generator, reconfigures the engine with
  the new preset's config (rebuilding the engine only if the preset names another model),
  freezes again (so a dropped engine is collected) and starts a new generator.

Unless the config names an ``l2_cache_dir``, the L2 disk cache lives in a temporary
directory for this dashboard session (removed on stop), as in ``clawlet-tui run``: a
launch never starts with the previous launch's results on disk (with the seed's 1 h TTL
they would answer most requests and hide the batching the user came to watch).

Everything that builds engines, generators or presets is injectable, so the dashboard can
be tested with stand-ins and the real classes are imported only when first needed.
"""

from __future__ import annotations

import asyncio
import inspect
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..engine.alerts import AlertRule, preset_alert_rules
from ..engine.config import OptimizationConfig
from ..engine.errors import ClawletError, ConfigError
from ..engine.snapshot import MetricsSnapshot
from ..tune.measure import MeasureSettings
from ..tune.objective import Objective
from ..tune.space import DEFAULT_PARAMS
from ..tune.tuner import DEFAULT_BUDGET_S, check_load
from . import gc_policy
from .host import EngineHost, OnEngineThread
from .live_tuning import RUNNING, LiveTuning, TuningView

#: a factory ``(config, model) -> engine``
EngineFactory = Callable[[OptimizationConfig, Any], Any]
#: a factory ``(engine, profile, model) -> load generator``
GeneratorFactory = Callable[[Any, Any, Any], Any]


@dataclass(frozen=True)
class LoadView:
    """What the dashboard shows about the load: immutable, built fresh on every refresh."""

    preset: str = ""
    description: str = ""
    #: "open" (arrival rate), "closed" (fixed concurrency) or "replay" (recorded stream)
    mode: str = "replay"
    target_rps: float | None = None
    #: closed loop: number of clients
    clients: int | None = None
    sent: int = 0
    completed: int = 0
    outstanding: int = 0
    paused: bool = False
    finished: bool = False
    slo_p99_ms: float | None = None
    #: the preset's alert rules (its ``[[alerts]]`` and its SLO): the dashboard judges them
    alert_rules: tuple[AlertRule, ...] = ()
    #: e.g. "model kept: mlp-... (preset asks for ...)"
    note: str = ""


def _default_engine_factory(config: OptimizationConfig, model: Any) -> Any:
    from ..engine.engine import ClawletEngine

    return ClawletEngine(config=config, model=model)


def _default_generator_factory(engine: Any, profile: Any, model: Any) -> Any:
    from ..load import LoadGenerator

    return LoadGenerator(engine, profile, model=model)


def _default_preset_loader(name: str) -> Any:
    from ..load import load_preset

    return load_preset(name)


def _default_model_builder(spec: Mapping[str, Any] | None, source: str | None) -> Any:
    from ..models import build_model

    return build_model(spec, source=source)


async def _maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


class LiveRun:
    """An engine and the load generator feeding it."""

    def __init__(
        self,
        engine: Any,
        generator: Any,
        preset: Any,
        *,
        engine_factory: EngineFactory = _default_engine_factory,
        generator_factory: GeneratorFactory = _default_generator_factory,
        preset_loader: Callable[[str], Any] = _default_preset_loader,
        model_builder: Callable[[Mapping[str, Any] | None, str | None], Any] = _default_model_builder,
        l2_dir: str | None = None,
    ) -> None:
        #: this session's L2 directory for configs that name none (removed on stop)
        self.l2_dir = l2_dir
        #: the engine loop thread; engine and generator are reached through it
        self.host = EngineHost()
        self.engine = OnEngineThread(self.host, engine)
        self.generator = OnEngineThread(self.host, generator)
        self.preset = preset
        self._engine_factory = engine_factory
        self._generator_factory = generator_factory
        self._preset_loader = preset_loader
        self._model_builder = model_builder
        self._model_spec: Mapping[str, Any] | None = getattr(preset, "model_spec", None)
        self.target_rps: float | None = _profile_rate(getattr(preset, "load", None))
        #: closed loop: clients sending one request at a time
        self.clients: int | None = getattr(getattr(preset, "load", None), "concurrency", None)
        self.note = ""
        self.started = False
        self.stopped = False
        #: this run holds a :func:`gc_policy.freeze` (released on stop)
        self.gc_frozen = False
        #: the warm-up running on the engine loop, if any (cancelled on stop and switch)
        self._warmup: asyncio.Task[Any] | None = None
        #: the last tuning started with key ``a`` (:mod:`.live_tuning`), running or ended
        self._tuning: LiveTuning | None = None

    @classmethod
    def from_preset(
        cls,
        name: str,
        overrides: Mapping[str, Any] | None = None,
        *,
        engine_factory: EngineFactory = _default_engine_factory,
        generator_factory: GeneratorFactory = _default_generator_factory,
        preset_loader: Callable[[str], Any] = _default_preset_loader,
        model_builder: Callable[[Mapping[str, Any] | None, str | None], Any] = _default_model_builder,
        backend_url: str | Sequence[str] | None = None,
        model_name: str | None = None,
    ) -> LiveRun:
        """Load preset ``name``, apply ``overrides`` (``--set``) and build engine and generator.

        Building is :func:`~clawlet_tui.session.build_session`'s, as for ``clawlet-tui run``.
        Raises :class:`PresetError` / :class:`ConfigError` before anything starts.
        """
        from ..session import build_session

        preset = preset_loader(name)
        session = build_session(
            preset,
            overrides=overrides,
            backend_url=backend_url,
            model_name=model_name,
            engine_factory=engine_factory,
            generator_factory=generator_factory,
            model_builder=model_builder,
        )
        return cls(
            session.engine,
            session.generator,
            preset,
            engine_factory=session.engine_factory,
            generator_factory=generator_factory,
            preset_loader=preset_loader,
            model_builder=model_builder,
            l2_dir=session.l2_dir,
        )

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self.host.start()
        await self.engine.start()
        # the quiet point after start-up: everything built so far (DOM, modules, model,
        # engine) leaves the collector's reach before the first request is sent
        if not self.gc_frozen:
            self.gc_frozen = gc_policy.freeze()
        await self.generator.start()
        self.started = True
        self.log("load", f"preset {self.preset_name}: {self.describe_load()}")

    async def stop(self) -> None:
        """Stop the load, then drain the engine.  Idempotent."""
        if self.stopped:
            return
        self.stopped = True
        try:
            await self._cancel_warmup()
            if self._tuning is not None:
                await self.host.run(self._tuning.stop())  # the start config back before the drain
            await self.generator.stop()
        finally:
            try:
                await self.engine.stop()
            finally:
                self.host.stop()
                if self.gc_frozen:
                    self.gc_frozen = False
                    gc_policy.thaw()
                if self.l2_dir is not None:
                    shutil.rmtree(self.l2_dir, ignore_errors=True)

    # -- load control -------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        return bool(getattr(self.generator, "paused", False))

    async def toggle_pause(self) -> bool:
        """Pause or resume the load (the generator logs it); returns the new paused state."""
        if self.paused:
            await _maybe_await(self.generator.resume())
        else:
            await _maybe_await(self.generator.pause())
        return self.paused

    async def burst(self, n: int) -> Any:
        """Send ``n`` extra requests at once; returns what the generator returns (how many went)."""
        return await _maybe_await(self.generator.inject_burst(n))

    @property
    def open_loop(self) -> bool:
        return self.target_rps is not None

    async def set_rate(self, rps: float) -> None:
        """Open loop: the arrival rate now.  Closed loop: the number of clients (``round(rps)``).

        The generator validates (ConfigError) and logs the change.
        """
        await _maybe_await(self.generator.set_rate(rps))
        if self.open_loop:
            self.target_rps = float(rps)
        else:
            self.clients = round(rps)

    async def switch_preset(self, name: str) -> bool:
        """Stop the current load, reconfigure (or rebuild) the engine, start the preset's load.

        Returns True if the engine was rebuilt (another model), False if reconfigured.
        """
        rebuilt = False
        preset = self._preset_loader(name)
        if preset.config.l2_cache_dir is None and self.l2_dir is None:
            self.l2_dir = _new_l2_dir()
        config = _with_l2_dir(preset.config, self.l2_dir)
        await self._cancel_warmup()
        if self._tuning is not None:  # trials measure one load: a tuning ends with it
            await self.host.run(self._tuning.stop())
        await self.generator.stop()
        spec = getattr(preset, "model_spec", None)
        # a new model, or BLAS threads (which a running engine cannot change): a fresh engine
        if _spec(spec) != _spec(self._model_spec) or config.blas_threads != self.engine.config.blas_threads:
            await self.engine.stop()
            model = self._model_builder(spec, str(getattr(preset, "path", None) or name))
            self.engine = OnEngineThread(self.host, self._engine_factory(config, model))
            await self.engine.start()
            self._model_spec = spec
            self.note = ""
            rebuilt = True
        else:
            self.engine.reconfigure(config)
        if self.gc_frozen:  # no load flows here: collect what the old load (or engine) left
            gc_policy.refreeze()
        self.preset = preset
        self.target_rps = _profile_rate(preset.load)
        self.clients = getattr(preset.load, "concurrency", None)
        self.generator = OnEngineThread(
            self.host, self._generator_factory(self.engine.target, preset.load, self.engine.model)
        )
        await self.generator.start()
        self.log("load", f"preset {self.preset_name}: {self.describe_load()}")
        return rebuilt

    # -- tuning (key ``a``; runs on the engine loop, see live_tuning.py) ------------------

    @property
    def tuning(self) -> TuningView | None:
        """The last tuning's view (None if none was started)."""
        return None if self._tuning is None else self._tuning.view()

    async def start_tuning(
        self, slo_p99_ms: float, budget_s: float = DEFAULT_BUDGET_S, params: tuple[str, ...] = DEFAULT_PARAMS,
        settings: MeasureSettings | None = None,
    ) -> TuningView:
        """Tune the engine under the load that is running; ConfigError/ClawletError if it cannot."""
        if self._tuning is not None and self._tuning.state == RUNNING:
            raise ClawletError("a tuning is already running")
        if not self.started or self.stopped:
            raise ClawletError("the engine is not running")
        if self.paused:
            raise ConfigError("the load is paused: resume it (p) before tuning", field="load")
        if bool(getattr(self.stats(), "finished", False)):
            raise ConfigError("the load has ended: switch to a preset (s) before tuning", field="load")
        check_load(self.preset)
        objective = Objective.for_load(slo_p99_ms, "open" if self.open_loop else "closed")
        tuning = LiveTuning(self.engine.target, objective, params=params, budget_s=budget_s, settings=settings)
        await self.host.run(tuning.start())
        self._tuning = tuning
        return tuning.view()

    async def stop_tuning(self) -> OptimizationConfig:
        """Stop the tuning and restore the config it started from; returns the config now on."""
        if self._tuning is None:
            return self.config
        return await self.host.run(self._tuning.stop())

    async def apply_tuning(self) -> OptimizationConfig:
        """Apply the best config that met the SLO; ClawletError (nothing changed) if none did."""
        if self._tuning is None:
            raise ClawletError("no tuning has run: press a to start one")
        return await self.host.run(self._tuning.apply())

    # -- engine controls (the rest of EngineControls) -----------------------------------

    @property
    def problem(self) -> str | None:
        """None, or "engine not responding" after a call to the engine loop timed out."""
        return self.host.problem

    def snapshot(self) -> MetricsSnapshot:
        return self.engine.snapshot()

    @property
    def config(self) -> OptimizationConfig:
        return self.engine.config

    def update(self, **changes: Any) -> OptimizationConfig:
        """``engine.update``: validated (ConfigError names the field), applied live."""
        return self.engine.update(**changes)

    def trigger_gc(self) -> Any:
        return self.engine.trigger_gc()

    def clear_cache(self) -> Any:
        return self.engine.clear_cache()

    def reset_metrics(self) -> Any:
        return self.engine.reset_metrics()

    async def warm_up(self) -> int:
        """Start a warm-up on the engine loop (see :meth:`EngineControls.warm_up`); one at a time."""
        from ..load.warmup import plan_for, warm_up

        if self._warmup is not None and not self._warmup.done():
            raise ClawletError("a warm-up is already running")
        config = self.engine.config
        if not config.enable_cache:
            raise ConfigError("the cache is off (key 2 turns it on): there is nothing to warm", field="enable_cache")
        plan = plan_for(self.preset, config.l1_cache_size)
        engine = self.engine.target

        def begin() -> asyncio.Task[Any]:
            task = asyncio.ensure_future(warm_up(engine, plan, model=engine.model))
            task.add_done_callback(lambda t: _log_failed_warmup(engine, t))
            return task

        self._warmup = self.host.call(begin)
        return len(plan.keys)

    async def _cancel_warmup(self) -> None:
        task, self._warmup = self._warmup, None
        if task is not None and not task.done():
            await self.host.run(_cancel(task))

    # -- reading ------------------------------------------------------------------------

    @property
    def preset_name(self) -> str:
        return str(getattr(self.preset, "name", "?"))

    def describe_load(self) -> str:
        load = getattr(self.preset, "load", None)
        describe = getattr(load, "describe", None)
        return str(describe()) if callable(describe) else ""

    def stats(self) -> Any:
        """The generator's own stats object (what reports take)."""
        return self.generator.stats()

    def view(self) -> LoadView:
        stats = self.stats()
        mode = str(getattr(stats, "mode", "open" if self.open_loop else "closed"))
        return LoadView(
            preset=self.preset_name,
            description=str(getattr(stats, "description", "") or self.describe_load()),
            mode=mode,
            target_rps=self.target_rps,
            clients=self.clients if not self.open_loop else None,
            sent=int(getattr(stats, "sent", 0)),
            completed=int(getattr(stats, "completed", 0)),
            outstanding=int(getattr(stats, "outstanding", 0)),
            paused=bool(getattr(stats, "paused", self.paused)),
            finished=bool(getattr(stats, "finished", False)),
            slo_p99_ms=getattr(self.preset, "slo_p99_ms", None),
            alert_rules=preset_alert_rules(self.preset),
            note=self.note,
        )

    def log(self, kind: str, message: str) -> None:
        log_event = getattr(self.engine, "log_event", None)
        if callable(log_event):
            log_event(kind, message)


async def _cancel(task: asyncio.Task[Any]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def _log_failed_warmup(engine: Any, task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        exc = task.exception()
        engine.log_event("warmup", f"warm-up failed: {type(exc).__name__}: {exc}")


def _new_l2_dir() -> str:
    return tempfile.mkdtemp(prefix="clawlet-l2-")


def _with_l2_dir(config: OptimizationConfig, l2_dir: str | None) -> OptimizationConfig:
    """``config`` with its L2 in ``l2_dir`` unless it names a directory of its own."""
    if l2_dir is None or config.l2_cache_dir is not None:
        return config
    return config.replace(l2_cache_dir=l2_dir)


def _profile_rate(profile: Any) -> float | None:
    """The open-loop arrival rate of a load profile, or None for a closed loop."""
    if getattr(profile, "mode", None) == "closed":
        return None
    rate = getattr(profile, "rate_rps", None)
    return None if rate is None else float(rate)


def _spec(spec: Mapping[str, Any] | None) -> dict[str, Any]:
    return dict(spec or {})
