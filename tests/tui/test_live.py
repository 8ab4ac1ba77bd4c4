"""LiveRun: how the dashboard gets its engine and load generator from a preset."""

from __future__ import annotations

from pathlib import Path

import pytest

from clawlet_tui.engine import ClawletEngine, ConfigError, PresetError
from clawlet_tui.load import LoadGenerator
from clawlet_tui.tui.live import LiveRun


def test_from_preset_builds_real_engine_and_generator_with_overrides(tmp_path: Path) -> None:
    live = LiveRun.from_preset("steady", {"batch_size": 16, "l2_cache_dir": str(tmp_path)})
    assert isinstance(live.engine.target, ClawletEngine) and isinstance(live.generator.target, LoadGenerator)
    assert live.engine.config.batch_size == 16
    assert live.preset_name == "steady" and live.open_loop and live.target_rps == 400.0
    assert live.view().slo_p99_ms == live.preset.slo_p99_ms


def test_bad_preset_or_override_fails_before_anything_starts() -> None:
    with pytest.raises(PresetError):
        LiveRun.from_preset("no-such-preset")
    with pytest.raises(ConfigError, match="batch_size must be >= 1"):
        LiveRun.from_preset("steady", {"batch_size": 0})


async def test_stop_is_idempotent(live_run: LiveRun) -> None:
    await live_run.start()
    await live_run.stop()
    await live_run.stop()
    assert not live_run.engine.running


async def test_engine_runs_on_its_own_loop_thread(live_run: LiveRun) -> None:
    """The dashboard's loop renders; the engine's loop serves: a slow frame cannot stall it."""
    import asyncio
    import threading

    await live_run.start()
    try:
        assert live_run.host.running
        engine_loop = live_run.host.call(asyncio.get_running_loop)
        assert engine_loop is not asyncio.get_running_loop()
        assert live_run.host.call(threading.current_thread).name == "clawlet-engine-loop"
        # calls through the stand-in run there and hand back results and errors
        assert live_run.engine.update(batch_size=3).batch_size == 3
        with pytest.raises(ConfigError):
            live_run.engine.update(batch_size=0)
    finally:
        await live_run.stop()
    assert not live_run.host.running


def _session_dirs(root: Path) -> list[Path]:
    return sorted(root.glob("clawlet-l2-*"))


async def test_a_config_without_l2_dir_gets_a_fresh_session_l2_removed_on_stop(
    presets: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second launch must not start with the first launch's results on disk."""
    import dataclasses
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    unset = {
        name: dataclasses.replace(p, config=p.config.replace(l2_cache_dir=None)) for name, p in presets.items()
    }
    live = LiveRun.from_preset(
        "tiny-steady",
        preset_loader=unset.__getitem__,
        engine_factory=lambda config, model: ClawletEngine(config=config, model=model),
        generator_factory=lambda engine, profile, model: LoadGenerator(engine, profile, model=model),
    )
    (session,) = _session_dirs(tmp_path)
    assert live.engine.config.l2_cache_dir == str(session)
    await live.start()
    try:
        await live.switch_preset("tiny-closed")  # same model: reconfigured, same session L2
        assert live.engine.config.l2_cache_dir == str(session)
        assert session.is_dir()
    finally:
        await live.stop()
    assert _session_dirs(tmp_path) == []


def test_a_config_naming_an_l2_dir_keeps_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    live = LiveRun.from_preset("steady", {"l2_cache_dir": str(tmp_path / "mine")})
    assert live.engine.config.l2_cache_dir == str(tmp_path / "mine")
    assert live.l2_dir is None and _session_dirs(tmp_path) == []


def test_a_failed_build_leaves_no_session_dir(presets: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    def broken_model(spec, source):
        raise PresetError("model: no such model", source=source)

    with pytest.raises(PresetError):
        LiveRun.from_preset("tiny-steady", preset_loader=presets.__getitem__, model_builder=broken_model)
    assert _session_dirs(tmp_path) == []


async def test_switching_to_a_preset_with_other_blas_threads_rebuilds_the_engine(
    presets: dict, live_run: LiveRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A running engine refuses a blas_threads change; the switch builds a fresh one instead."""
    import dataclasses

    from clawlet_tui.engine import engine as engine_module

    applied: list[int] = []
    monkeypatch.setattr(engine_module, "limit_blas_threads", applied.append)  # keep this process's BLAS as is
    presets["tiny-two"] = dataclasses.replace(
        presets["tiny-steady"], name="tiny-two", config=presets["tiny-steady"].config.replace(blas_threads=2)
    )
    await live_run.start()
    try:
        first = live_run.engine.target
        await live_run.switch_preset("tiny-two")
        assert live_run.engine.target is not first and not first.running
        assert live_run.engine.config.blas_threads == 2 and applied[-1] == 2
    finally:
        await live_run.stop()


class _Node:
    """A weak-referenceable object to build a reference cycle from."""

    other: _Node | None = None


async def test_the_load_starts_only_after_start_up_objects_are_frozen_and_stop_thaws(
    presets: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 13: full collections over the dashboard's start-up objects stalled the engine
    60-120 ms; they must be out of the collector's reach before the first request."""
    import gc

    from clawlet_tui.tui import gc_policy

    monkeypatch.setattr(gc_policy, "FREEZE_AFTER_START", True)
    frozen_when_load_started: list[int] = []

    def generator_factory(engine, profile, model):
        generator = LoadGenerator(engine, profile, model=model)
        start = generator.start

        async def start_and_record() -> None:
            frozen_when_load_started.append(gc.get_freeze_count())
            await start()

        generator.start = start_and_record
        return generator

    live = LiveRun.from_preset(
        "tiny-steady",
        preset_loader=presets.__getitem__,
        engine_factory=lambda config, model: ClawletEngine(config=config, model=model),
        generator_factory=generator_factory,
    )
    assert gc.get_freeze_count() == 0
    thresholds = gc.get_threshold()
    await live.start()
    try:
        assert live.gc_frozen and gc_policy.holders() == 1
        assert gc.get_threshold()[2] >= gc_policy.FULL_COLLECTION_THRESHOLD
        # the engine object itself, built before start, is among the frozen
        assert frozen_when_load_started and frozen_when_load_started[0] > 0
    finally:
        await live.stop()
    assert not live.gc_frozen and gc_policy.holders() == 0 and gc.get_freeze_count() == 0
    assert gc.get_threshold() == thresholds


async def test_a_preset_switch_frees_cycles_that_died_while_frozen(live_run: LiveRun) -> None:
    """A switch that drops an engine must not leak it: the switch re-freezes after collecting."""
    import gc
    import weakref

    node = _Node()
    node.other = node
    ref = weakref.ref(node)
    await live_run.start()  # `node` is alive here, so it is frozen
    try:
        del node
        gc.collect()
        assert ref() is not None, "frozen: a plain collection does not reach it"
        await live_run.switch_preset("tiny-closed")
        assert ref() is None
        assert live_run.gc_frozen and gc.get_freeze_count() > 0
    finally:
        await live_run.stop()
