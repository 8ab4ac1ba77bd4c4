"""Headless run of a preset: drive the load against a fresh engine, return what happened.

Used by ``clawlet-tui run`` and ``compare`` and by the dashboard's export.  Guarantees:

* the engine and the load generator are always stopped (the engine drained) before
  :func:`run_preset` returns, whether the load ended, failed, or the run was interrupted;
* the :class:`RunResult` holds the snapshot taken after the load finished and before the
  engine stopped, so every figure in a report is one that was measured during the run;
* Ctrl+C or SIGTERM (``KeyboardInterrupt`` or cancellation of the running task, which is
  what the CLI turns both into) does not lose the run: load stops, the engine drains, and
  the result comes back marked ``interrupted`` with the number of requests that were in
  flight at that moment;
* unless the caller named an L2 directory, the disk cache lives in a temporary
  directory removed afterwards, so a previous run's disk cache cannot flatter this one.

Model, engine and generator come from :func:`~clawlet_tui.session.build_session`, the
builder the dashboard uses too.  The engine and load packages are imported when a run
starts, so the report layer can use :class:`RunResult` without them.
"""

from __future__ import annotations

import asyncio
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .engine.alerts import AlertEvaluator, AlertEvent, AlertRule, preset_alert_rules
from .engine.config import BASELINE, OptimizationConfig, cpu_count
from .engine.snapshot import MetricsSnapshot
from .session import MODES, build_session, resolve_config
from .stop_signals import absorb_cancellation
from .timeline import Timeline, TimelineRecorder

if TYPE_CHECKING:  # pragma: no cover
    from .load import LoadStats, Preset
    from .load.warmup import WarmupPlan, WarmupProgress, WarmupResult

#: seconds between progress callbacks (about 4 a second)
PROGRESS_INTERVAL_S = 0.25

#: seconds the engine may take to finish queued requests when a run stops
DRAIN_TIMEOUT_S = 10.0

#: fields the baseline ("before") takes from OptimizationConfig.baseline(); every other
#: field (timeouts, queue size, memory settings, L2 location) comes from the preset,
#: so both sides of a comparison face the same limits
BASELINE_FIELDS = frozenset(BASELINE)



@dataclass(frozen=True)
class MachineInfo:
    """Facts about the machine a run happened on, for the report's test configuration."""

    cpu_model: str
    cores: int
    memory_total_bytes: int
    python_version: str
    numpy_version: str
    platform: str

    @classmethod
    def collect(cls) -> MachineInfo:
        import numpy
        import psutil

        return cls(
            cpu_model=_cpu_model(),
            cores=cpu_count(),
            memory_total_bytes=int(psutil.virtual_memory().total),
            python_version=platform.python_version(),
            numpy_version=numpy.__version__,
            platform=platform.platform(terse=True),
        )


@dataclass(frozen=True)
class RunResult:
    """Everything a report needs about one run; immutable and free of live engine objects."""

    preset: str
    mode: str
    #: final snapshot: after the load finished (or was interrupted), before the engine stopped
    snapshot: MetricsSnapshot
    #: the load generator's final statistics (a ``LoadStats``)
    load_stats: Any
    #: ``LoadProfile.describe()`` of the load that ran (after any duration override)
    load_description: str
    #: wall-clock ISO-8601 times with the local offset
    started_at: str
    finished_at: str
    machine: MachineInfo
    model_description: str
    preset_description: str = ""
    #: the run was cut short by Ctrl+C or SIGTERM
    interrupted: bool = False
    #: which signal cut it short, ``"SIGINT"`` or ``"SIGTERM"`` (set by the CLI, which
    #: knows; None when not interrupted or not known)
    interrupt_signal: str | None = None
    #: requests submitted and not yet finished when the run was interrupted
    in_flight_at_interrupt: int = 0
    #: the preset's latency objective (p99 at or below this many ms), if it has one
    slo_p99_ms: float | None = None
    #: one row per second of the run (:mod:`clawlet_tui.timeline`), for the report's charts
    timeline: Timeline = Timeline()
    #: the alert rules judged during the run (the preset's ``[[alerts]]`` and its SLO)
    alert_rules: tuple[AlertRule, ...] = ()
    #: every alert that fired, in order (``resolved_at_s`` None: still firing at the end)
    alerts: tuple[AlertEvent, ...] = ()
    #: the cache warm-up that ran before the load (None: the load started cold); its
    #: requests are counted here, not in ``snapshot``
    warmup: WarmupResult | None = None

    @property
    def config(self) -> OptimizationConfig:
        return self.snapshot.config


def now_iso() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


async def run_preset(
    preset: Preset,
    *,
    duration_s: float | None = None,
    overrides: dict[str, Any] | None = None,
    mode: str = "optimized",
    progress: Callable[[MetricsSnapshot, LoadStats], None] | None = None,
    fresh_l2: bool = False,
    backend_url: str | Sequence[str] | None = None,
    model_name: str | None = None,
    on_alert: Callable[[AlertEvent], None] | None = None,
    warmup: WarmupPlan | None = None,
    warmup_progress: Callable[[WarmupProgress], None] | None = None,
) -> RunResult:
    """Run ``preset``'s load against a fresh engine until the load ends; see the module doc.

    The preset's alert rules are judged on a snapshot every progress tick and on the final
    one; ``on_alert`` gets each alert as it fires and as it resolves.

    ``warmup`` warms the cache with its keys before the load starts (skipped when the
    config has the cache off, as baseline mode does); the load's figures start after it
    (see :mod:`~clawlet_tui.load.warmup`).

    ``fresh_l2`` forces a temporary L2 directory even if the config names one (``compare``
    uses it so each side starts with an empty disk cache).  ``backend_url`` serves the
    preset's load from a remote Open Inference Protocol server instead of the preset's model.
    Building is :func:`~clawlet_tui.session.build_session`'s, as for the dashboard.
    """
    machine = MachineInfo.collect()
    alerts = AlertEvaluator(preset_alert_rules(preset))

    def judge(snapshot: MetricsSnapshot) -> None:
        for event in alerts.observe(snapshot):
            if on_alert is not None:
                on_alert(event)

    with build_session(
        preset, overrides=overrides, mode=mode, duration_s=duration_s, fresh_l2=fresh_l2,
        backend_url=backend_url, model_name=model_name,
    ) as session:
        engine, generator = session.engine, session.generator
        started_at = now_iso()
        interrupted = False
        in_flight = 0
        snapshot: MetricsSnapshot | None = None
        recorder = TimelineRecorder()
        warmed: WarmupResult | None = None
        await engine.start()
        try:
            try:
                if warmup is not None and engine.config.enable_cache:
                    from .load.warmup import warm_up

                    warmed = await warm_up(engine, warmup, model=session.model, progress=warmup_progress)
                await generator.start()
                snapshot = await _drive(engine, generator, progress, recorder, judge if alerts.rules else None)
            except (asyncio.CancelledError, KeyboardInterrupt):
                interrupted = True
                absorb_cancellation()  # we handle the cancellation: the clean-up below awaits normally
                in_flight = engine.snapshot().outcomes.in_flight
                engine.log_event("run", f"interrupted with {in_flight} requests in flight")
                # stop sending and drain together: the engine finishes (or, past its drain
                # limit, fails) what it holds, which is what the generator waits for
                stop_sending = asyncio.ensure_future(generator.stop(timeout_s=DRAIN_TIMEOUT_S + 1.0))
                # one turn of the loop: requests the generator had already handed to the
                # loop reach the engine before it stops admitting (else they would be
                # rejected as "engine is stopping", an outcome of the shutdown, not of the load)
                await asyncio.sleep(0)
                await asyncio.gather(stop_sending, engine.stop(drain_timeout_s=DRAIN_TIMEOUT_S))
                snapshot = engine.snapshot()
                recorder.observe(snapshot)
        finally:
            try:
                await generator.stop()
            finally:
                await engine.stop(drain_timeout_s=DRAIN_TIMEOUT_S)
        load_stats = generator.stats()
        assert snapshot is not None
        judge(snapshot)
        return RunResult(
            preset=preset.name,
            mode=mode,
            snapshot=snapshot,
            load_stats=load_stats,
            load_description=session.profile.describe(),
            started_at=started_at,
            finished_at=now_iso(),
            machine=machine,
            model_description=session.model.describe(),
            preset_description=getattr(preset, "description", "") or "",
            interrupted=interrupted,
            in_flight_at_interrupt=in_flight,
            slo_p99_ms=getattr(preset, "slo_p99_ms", None),
            timeline=recorder.timeline(),
            alert_rules=alerts.rules,
            alerts=alerts.events,
            warmup=warmed,
        )


async def _drive(
    engine: Any,
    generator: Any,
    progress: Callable[..., None] | None,
    recorder: TimelineRecorder,
    judge: Callable[[MetricsSnapshot], None] | None = None,
) -> MetricsSnapshot:
    """Wait for the load to end, reporting progress, recording the timeline and judging
    alerts from the same snapshot each tick; return the snapshot taken right after."""
    waiter = asyncio.ensure_future(generator.wait())
    try:
        while True:
            done, _ = await asyncio.wait({waiter}, timeout=PROGRESS_INTERVAL_S)
            snapshot = engine.snapshot()
            recorder.observe(snapshot)
            if judge is not None:
                judge(snapshot)
            if progress is not None:
                progress(snapshot, generator.stats())
            if done:
                break
        waiter.result()  # re-raise a failure of the generator
        final = engine.snapshot()
        recorder.observe(final)
        return final
    finally:
        if not waiter.done():
            waiter.cancel()
            try:
                await waiter
            except (asyncio.CancelledError, Exception):
                pass


async def run_compare(
    preset: Preset,
    *,
    duration_s: float | None = None,
    overrides: dict[str, Any] | None = None,
    progress: Callable[[str, MetricsSnapshot, LoadStats], None] | None = None,
    backend_url: str | Sequence[str] | None = None,
    model_name: str | None = None,
    on_alert: Callable[[str, AlertEvent], None] | None = None,
    warmup: WarmupPlan | None = None,
    warmup_progress: Callable[[WarmupProgress], None] | None = None,
) -> tuple[RunResult, RunResult | None]:
    """The same load against baseline mode, then the optimized config, each with a fresh L2.

    Returns ``(baseline, optimized)``.  If the baseline run is interrupted the optimized
    run is skipped and ``optimized`` is ``None``.  ``warmup`` warms the optimized side
    only (``compare --warm``): the baseline has no cache to warm.
    """
    results: list[RunResult] = []
    for mode in MODES[::-1]:  # baseline first, as the seed's table reads
        callback = None if progress is None else _tagged(progress, mode)
        alert_callback = None if on_alert is None else _tagged(on_alert, mode)
        result = await run_preset(
            preset, duration_s=duration_s, overrides=overrides, mode=mode, progress=callback, fresh_l2=True,
            backend_url=backend_url, model_name=model_name, on_alert=alert_callback,
            warmup=warmup if mode == "optimized" else None, warmup_progress=warmup_progress,
        )
        results.append(result)
        if result.interrupted:
            break
    return results[0], (results[1] if len(results) > 1 else None)


def _tagged(callback: Callable[..., None], mode: str) -> Callable[..., None]:
    """``callback`` with the run's mode as its first argument."""

    def tagged(*args: Any) -> None:
        callback(mode, *args)

    return tagged


def result_from_snapshot(
    snapshot: MetricsSnapshot,
    load_stats: Any,
    preset: Any,
    *,
    model_description: str | None = None,
    started_at: str | None = None,
    alert_rules: tuple[AlertRule, ...] = (),
    alerts: tuple[AlertEvent, ...] = (),
) -> RunResult:
    """A :class:`RunResult` for a live engine's current state (the dashboard's export,
    with the alerts the dashboard judged)."""
    name = preset if isinstance(preset, str) else getattr(preset, "name", str(preset))
    description = "" if isinstance(preset, str) else getattr(preset, "description", "") or ""
    load_description = getattr(load_stats, "description", None)
    if not load_description and not isinstance(preset, str) and getattr(preset, "load", None) is not None:
        load_description = preset.load.describe()
    if model_description is None:
        model_description = snapshot.model_name
    if started_at is None:
        started = datetime.now().astimezone().timestamp() - snapshot.uptime_s
        started_at = datetime.fromtimestamp(started).astimezone().isoformat(timespec="seconds")
    return RunResult(
        preset=name,
        mode=snapshot.mode,
        snapshot=snapshot,
        load_stats=load_stats,
        load_description=load_description or "",
        started_at=started_at,
        finished_at=now_iso(),
        machine=MachineInfo.collect(),
        model_description=model_description,
        preset_description=description,
        slo_p99_ms=None if isinstance(preset, str) else getattr(preset, "slo_p99_ms", None),
        # the seconds the monitor still holds (its last history_s), without per-second hit rate
        timeline=Timeline.from_series(snapshot),
        alert_rules=alert_rules,
        alerts=alerts,
    )


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Hardware", "Processor", "cpu model") and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


__all__ = [
    "BASELINE_FIELDS",
    "MachineInfo",
    "RunResult",
    "now_iso",
    "resolve_config",
    "result_from_snapshot",
    "run_compare",
    "run_preset",
]
