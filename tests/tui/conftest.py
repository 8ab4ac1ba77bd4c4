"""Fixtures for the dashboard tests.

* :func:`replay_app` builds a :class:`ClawletApp` fed from the recorded metric stream in
  ``fixtures/stream.jsonl`` with a fixed wall clock and the repository's theme files, so
  screenshots are the same on every machine.  :func:`feed_stream` pushes the whole stream
  through the dashboard (no sleeping); after that the stream repeats its last snapshot.
* :func:`fake_app` builds one driving a :class:`~.fakes.FakeControls` (``fake``): it answers
  every control at once and records it, so a key test takes a fraction of a second.
* :func:`live_app` builds one with a real :class:`ClawletEngine` serving a tiny fast latency
  model under a light open-loop load, its L2 cache under ``tmp_path``: for the few tests
  marked ``live_engine`` that check a key reaches the engine.

The live presets are light on purpose.  Textual's pilot waits after every key until the
process is idle (``textual._wait.wait_for_idle``: under 1 ms of CPU time in 20 ms, else up
to 1 s), and the process's CPU time includes the engine thread's.  A busy engine makes every
key press cost up to 2 s; at 20 req/s, and with a closed loop that sends 100 requests and
ends, it costs what the dashboard's own work does.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from clawlet_tui.engine import ClawletEngine, OptimizationConfig
from clawlet_tui.load import LoadGenerator, LoadProfile, Preset
from clawlet_tui.load.keys import KeySpec
from clawlet_tui.models import build_model
from clawlet_tui.tui.app import ClawletApp
from clawlet_tui.tui.controls import EngineControls
from clawlet_tui.tui.live import LiveRun, LoadView
from clawlet_tui.tui.replay import RecordedStream

from .fakes import FakeControls, recorded_snapshots

HERE = Path(__file__).parent
REPO_THEMES = HERE.parents[1] / "themes"
FIXED_NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
TINY_MODEL = {"kind": "latency", "fixed_ms": 0.5, "per_item_ms": 0.01}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "live_engine: drives a real engine and load generator (seconds per test, not milliseconds)"
    )


def fixed_clock() -> datetime:
    return FIXED_NOW


@pytest.fixture(autouse=True)
def record_notifications(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep every notification a dashboard shows in ``app.notified`` (see :func:`notified`).

    A toast leaves ``App._notifications`` when its 2-3 s timeout runs out, which a loaded
    machine can take between a key press and the assertion about its message.
    """
    show = ClawletApp.notify

    def notify(self: ClawletApp, message: str, *args: Any, **kwargs: Any) -> None:
        self.__dict__.setdefault("notified", []).append((kwargs.get("severity", "information"), str(message)))
        show(self, message, *args, **kwargs)

    monkeypatch.setattr(ClawletApp, "notify", notify)


def notified(app: ClawletApp, severity: str | None = None) -> list[str]:
    """Every notification ``app`` has shown, in order (``severity``: only those)."""
    return [message for kind, message in app.__dict__.get("notified", []) if severity is None or kind == severity]


#: what a live run's load line says mid-run (an open loop that has sent 6,125 requests since
#: its preset started): for screenshots of the status line as a user sees it
OPEN_LOAD = LoadView(
    preset="steady",
    description="poisson 400 req/s, zipf keys",
    mode="open",
    target_rps=400.0,
    sent=6_125,
    completed=6_100,
    outstanding=25,
    slo_p99_ms=25.0,
)


def make_replay_app(
    theme: str | None = None, theme_dirs: list[Path] | None = None, load: LoadView | None = None
) -> ClawletApp:
    """``load``: what the load line shows (default: a replay of ``steady``)."""
    return ClawletApp(
        snapshot_source=RecordedStream(recorded_snapshots()),
        clock=fixed_clock,
        theme=theme,
        theme_dirs_=theme_dirs if theme_dirs is not None else [REPO_THEMES],
        replay_load=load
        or LoadView(
            preset="steady",
            description="poisson 400 req/s, zipf keys",
            mode="replay",
            slo_p99_ms=25.0,
        ),
        refresh_interval_s=0.5,
    )


async def feed_stream(pilot: Any) -> None:
    """Show every recorded snapshot in order, then let the screen settle."""
    app = pilot.app
    stream = app._snapshot_source
    while not stream.exhausted:
        app.refresh_metrics()
    await pilot.pause()


@pytest.fixture
def replay_app() -> Callable[..., ClawletApp]:
    return make_replay_app


def make_preset(name: str, tmp_path: Path, **load: Any) -> Preset:
    profile = LoadProfile(
        mode=load.pop("mode", "open"),
        rate_rps=load.pop("rate_rps", 200.0) if load.get("concurrency") is None else None,
        duration_s=30.0,
        keys=KeySpec(distribution="uniform", key_count=500),
        **load,
    )
    return Preset(
        name=name,
        description=f"test preset {name}",
        path=tmp_path / f"{name}.toml",
        load=profile,
        config=OptimizationConfig(
            batch_size=4, max_concurrent=2, l1_cache_size=64, l2_cache_dir=str(tmp_path / "l2"), memory_check_interval_s=0.5
        ),
        model_spec=dict(TINY_MODEL),
        slo_p99_ms=20.0,
    )


@pytest.fixture
def presets(tmp_path: Path) -> dict[str, Preset]:
    """``tiny-steady`` (open loop, 20 req/s) and ``tiny-closed`` (4 clients, 100 requests):
    the same model, so a switch between them keeps the engine."""
    steady = make_preset("tiny-steady", tmp_path, rate_rps=20.0)
    closed = make_preset("tiny-closed", tmp_path, mode="closed", concurrency=4, requests=100)
    return {p.name: p for p in (steady, closed)}


@pytest.fixture
def live_run(presets: dict[str, Preset]) -> LiveRun:
    return LiveRun.from_preset(
        "tiny-steady",
        preset_loader=presets.__getitem__,
        model_builder=lambda spec, source: build_model(spec, source=source),
        engine_factory=lambda config, model: ClawletEngine(config=config, model=model),
        generator_factory=lambda engine, profile, model: LoadGenerator(engine, profile, model=model),
    )


@pytest.fixture
def live_app(live_run: LiveRun, presets: dict[str, Preset], tmp_path: Path) -> ClawletApp:
    return ClawletApp(
        live_run,
        clock=fixed_clock,
        refresh_interval_s=0.25,
        theme_dirs_=[REPO_THEMES],
        report_dir=tmp_path,
        preset_lister=lambda: list(presets.values()),
    )


@pytest.fixture
def fake(presets: dict[str, Preset]) -> FakeControls:
    return FakeControls(presets["tiny-steady"], presets)


@pytest.fixture
def fake_app(fake: FakeControls, presets: dict[str, Preset], tmp_path: Path) -> ClawletApp:
    """The dashboard over :func:`fake`, built as :func:`live_app` is, except that it refreshes
    only on mount and after each control (the timer's interval is longer than any test): the
    fake's snapshot changes only when a control is called, so the timer would redraw the
    same screen."""
    controls: EngineControls = fake  # the app's type for it (and mypy's check that it fits)
    return ClawletApp(
        controls,
        clock=fixed_clock,
        refresh_interval_s=3600.0,
        theme_dirs_=[REPO_THEMES],
        report_dir=tmp_path,
        preset_lister=lambda: list(presets.values()),
    )
