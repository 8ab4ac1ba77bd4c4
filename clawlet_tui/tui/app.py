"""ClawletApp: wires the live run (engine + load) to the dashboard, and the keys to the engine.

Data flows one way: every ``refresh_interval_s`` the app takes *one* snapshot from its
snapshot source (by default ``live.snapshot``) and hands it down to the dashboard.
User intent flows back up as key bindings / command-palette commands, which call the
members of :class:`~.controls.EngineControls` and nothing else: ``live`` is the engine
process's client (``clawlet-tui``) or an in-process :class:`LiveRun` (``--in-process``,
tests).  Any :class:`ClawletError` raised by a control (a value the engine refuses, an
engine that does not answer) becomes a visible error notification; the app never crashes
on one, and when the engine stops answering the status line says so and ``q`` still quits.

Everything time- or engine-dependent is injectable so tests are deterministic: the
snapshot source (a recorded stream), the wall clock (event-log timestamps), and whether
the live run is started at all.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from textual.app import App, CSSPathType, SystemCommand
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.timer import Timer

from ..engine.alerts import AlertEvaluator
from ..engine.config import CHOICES, OptimizationConfig
from ..engine.errors import ClawletError, ThemeError
from ..engine.snapshot import MetricsSnapshot
from .controls import EngineControls
from .live import LiveRun, LoadView
from .screens import ConfigEditorScreen, DashboardScreen, HelpScreen, PresetPickerScreen
from .themes import (
    DEFAULT_THEME,
    FALLBACK_THEME,
    discover_themes,
    is_theme_path,
    load_theme_file,
    resolve_theme_name,
    theme_dirs,
)
from .tuning_flow import TuningFlow
from .widgets import EventLogPanel

HERE = Path(__file__).parent

#: requests one "fire a burst" key sends at once
BURST_SIZE = 100
#: factor the arrival-rate keys multiply / divide by
RATE_STEP = 1.25


def _double(v: Any) -> Any:
    return v * 2


def _halve_int(v: int) -> int:
    # at 1 (batch size) or 0 (L1) halving would not move; step below so the engine says why
    return v // 2 if v > 1 else v - 1


def _halve_seconds(v: float) -> float:
    return round(v / 2, 6) if v > 0.001 else 0.0


#: field -> (up, down) steps of the knob keys
KNOB_STEPS: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    "batch_size": (_double, _halve_int),
    "batch_timeout_s": (lambda v: round(v * 2, 6) if v > 0 else 0.001, _halve_seconds),
    "max_concurrent": (lambda v: v + 1, lambda v: v - 1),
    "l1_cache_size": (lambda v: v * 2 if v > 0 else 16, _halve_int),
}


@dataclass(frozen=True)
class Control:
    """One keyboard control: its key, action, footer label and help text."""

    key: str
    action: str
    label: str
    help: str
    group: Binding.Group | None = None
    key_display: str | None = None


_BATCH = Binding.Group("batch", compact=True)
_TIMEOUT = Binding.Group("timeout", compact=True)
_CONC = Binding.Group("workers", compact=True)
_L1 = Binding.Group("L1", compact=True)
_RATE = Binding.Group("rate", compact=True)

CONTROLS: tuple[Control, ...] = (
    Control("b", "adjust('batch_size', 'up')", "batch+", "Batch size up (x2)", _BATCH),
    Control("B", "adjust('batch_size', 'down')", "batch-", "Batch size down (/2)", _BATCH),
    Control("t", "adjust('batch_timeout_s', 'up')", "timeout+", "Batch timeout up (x2)", _TIMEOUT),
    Control("T", "adjust('batch_timeout_s', 'down')", "timeout-", "Batch timeout down (/2)", _TIMEOUT),
    Control("c", "adjust('max_concurrent', 'up')", "workers+", "Max concurrent batches up (+1)", _CONC),
    Control("C", "adjust('max_concurrent', 'down')", "workers-", "Max concurrent batches down (-1)", _CONC),
    Control("l", "adjust('l1_cache_size', 'up')", "L1+", "L1 cache size up (x2)", _L1),
    Control("L", "adjust('l1_cache_size', 'down')", "L1-", "L1 cache size down (/2)", _L1),
    Control("o", "cycle_policy", "policy", f"Batch policy: next of {' / '.join(CHOICES['batch_policy'])}"),
    Control("a", "tune", "tune", "Auto-tune the engine under the running load (Enter applies, Esc restores)"),
    Control("1", "toggle('enable_batching')", "batching", "Toggle batching on/off"),
    Control("2", "toggle('enable_cache')", "cache", "Toggle the cache on/off"),
    Control("h", "latency_view", "histogram", "Latency panel: trend / histogram of the window"),
    Control("p", "pause", "pause", "Pause / resume the load"),
    Control("f", "burst", "burst", f"Fire a burst of {BURST_SIZE} requests"),
    Control("r", "rate('up')", "rate+", f"Arrival rate up (x{RATE_STEP:g}; closed loop: +1 client)", _RATE),
    Control("R", "rate('down')", "rate-", f"Arrival rate down (/{RATE_STEP:g}; closed loop: -1 client)", _RATE),
    Control("s", "switch_preset", "preset", "Switch load preset"),
    Control("e", "edit_config", "edit", "Edit the whole config (form)"),
    Control("g", "gc", "GC", "Trigger the memory optimizer (GC) now"),
    Control("x", "clear_cache", "clear", "Clear the cache (L1 and L2)"),
    Control("u", "warm_up", "warm-up", "Warm the cache now (the preset's [warmup], else the keys L1 holds)"),
    Control("z", "reset_metrics", "reset", "Reset metrics"),
    Control("w", "export", "export", "Export a report of this run"),
    Control("v", "cycle_theme", "theme", "Next theme"),
    Control("question_mark", "help", "help", "Show this help", key_display="?"),
    Control("q", "quit", "quit", "Quit (stops the load, drains the engine)"),
)

#: the help screen's rows, ``(keys, what they do)``: paired keys share a row so the whole
#: list fits an 80x24 terminal in two columns (tests check every control is here)
HELP_ROWS: tuple[tuple[str, str], ...] = (
    ("b / B", "batch size ×2 / ÷2"),
    ("t / T", "batch timeout ×2 / ÷2"),
    ("c / C", "max concurrent batches ±1"),
    ("l / L", "L1 cache size ×2 / ÷2"),
    ("o", "next batch policy"),
    ("a", "auto-tune (enter / esc)"),
    ("1", "batching on / off"),
    ("2", "cache on / off"),
    ("h", "latency: trend / histogram"),
    ("p", "pause / resume the load"),
    ("f", f"burst of {BURST_SIZE} requests"),
    ("r / R", f"load rate ×{RATE_STEP:g} / ÷{RATE_STEP:g}"),
    ("s", "switch load preset"),
    ("e", "edit every config field"),
    ("g", "run the memory optimizer"),
    ("x", "clear the cache (L1, L2)"),
    ("u", "warm the cache now"),
    ("z", "reset metrics"),
    ("w", "export a report"),
    ("v", "next theme"),
    ("?", "this help"),
    ("q / ctrl+c", "quit (stops load, drains)"),
    ("ctrl+p", "command palette"),
)

#: actions that only make sense on the dashboard (hidden while a dialog is open)
DASHBOARD_ACTIONS = frozenset(c.action.split("(")[0] for c in CONTROLS) - {"quit"}


def _binding(control: Control) -> Binding:
    return Binding(
        control.key,
        control.action,
        control.label,
        tooltip=control.help,
        group=control.group,
        key_display=control.key_display,
    )


def _system_clock() -> datetime:
    return datetime.now().astimezone()


class ClawletApp(App[int]):
    """The clawlet-tui dashboard."""

    TITLE = "clawlet-tui"
    CSS_PATH: ClassVar[CSSPathType | None] = [
        HERE / "app.tcss",
        HERE / "widgets" / "panels.tcss",
        HERE / "screens" / "dashboard.tcss",
        HERE / "screens" / "help.tcss",
        HERE / "screens" / "config_editor.tcss",
        HERE / "screens" / "preset_picker.tcss",
        HERE / "screens" / "tuning.tcss",
        HERE / "screens" / "slo_prompt.tcss",
    ]
    BINDINGS: ClassVar[list[BindingType]] = [
        *(_binding(c) for c in CONTROLS),
        # Ctrl+C quits like q (stop load, drain), as it does in `run`; hidden from the footer
        Binding("ctrl+c", "quit", "quit", show=False, priority=True),
    ]
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (90, "-medium"), (130, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (40, "-tall")]

    def __init__(
        self,
        live: EngineControls | None = None,
        *,
        snapshot_source: Callable[[], MetricsSnapshot] | None = None,
        clock: Callable[[], datetime] = _system_clock,
        start_live: bool = True,
        refresh_interval_s: float = 0.5,
        theme: str | None = None,
        theme_dirs_: Sequence[Path] | None = None,
        replay_load: LoadView | None = None,
        report_dir: Path | str = ".",
        preset_lister: Callable[[], Iterable[Any]] | None = None,
        on_snapshot: Callable[[MetricsSnapshot], None] | None = None,
    ) -> None:
        """
        Args:
            live: the engine + load generator to drive (an :class:`EngineControls`: the engine
                process's client, or an in-process :class:`LiveRun`); None for a replay-only dashboard.
            snapshot_source: where snapshots come from (default: ``live.snapshot``).
            clock: wall clock for timestamps (event log, status line, report names).
            start_live: start ``live`` on mount and stop it on quit (False: the caller owns it).
            refresh_interval_s: seconds between snapshots.
            theme: theme name (``dark`` finds ``clawlet-dark``) or a theme file (``.toml`` or a path); None for the default.
            theme_dirs_: directories of theme files (default :func:`themes.theme_dirs`).
            replay_load: what the load line says when there is no live run.
            report_dir: where exported reports are written.
            preset_lister: what the preset picker lists (default ``load.list_presets``).
            on_snapshot: called with every snapshot the dashboard shows (``--metrics-port``
                publishes them for Prometheus scrapes).
        """
        super().__init__()
        if live is None and snapshot_source is None:
            raise ValueError("ClawletApp needs a live run or a snapshot source")
        self.live = live
        # self.live is not None whenever no snapshot_source was given (checked just above)
        self._snapshot_source = snapshot_source or (lambda: self.live.snapshot())  # type: ignore[union-attr]
        self.clock = clock
        self.start_live = start_live
        self.refresh_interval_s = refresh_interval_s
        self.requested_theme = theme
        self._theme_dirs = list(theme_dirs_) if theme_dirs_ is not None else theme_dirs()
        self.replay_load = replay_load or LoadView(preset="recorded stream", mode="replay", description="replay")
        self.report_dir = Path(report_dir)
        self._preset_lister = preset_lister
        self._on_snapshot = on_snapshot
        self.dashboard = DashboardScreen()
        self.last_snapshot: MetricsSnapshot | None = None
        #: names of themes loaded from theme files, in cycling order
        self.file_themes: list[str] = []
        self._stopping = False
        #: one line on what the run did and what was in flight at quit, printed after the app exits
        self.exit_summary: str | None = None
        self._source_failed = False
        self.refresh_count = 0
        self._refresh_timer: Timer | None = None
        #: the config field the last knob key changed: the editor opens on it
        self.last_field: str | None = None
        #: judges the load's alert rules on every snapshot shown (see :meth:`refresh_metrics`)
        self.alerts = AlertEvaluator()
        #: key ``a``: tuning under the running load (tuning_flow.py)
        self.tuning = TuningFlow(self)

    # -- lifecycle ------------------------------------------------------------------------

    async def on_mount(self) -> None:
        await self.push_screen(self.dashboard)
        self._load_themes()
        if self.live is not None and self.start_live:
            try:
                await self.live.start()
            except ClawletError as exc:
                self.notify(str(exc), severity="error", title="Engine did not start", timeout=10)
        self.refresh_metrics()
        self._refresh_timer = self.set_interval(self.refresh_interval_s, self.refresh_metrics, name="refresh-metrics")

    async def on_unmount(self) -> None:
        self._stop_refreshing()
        await self.stop_live()

    def _stop_refreshing(self) -> None:
        if self._refresh_timer is not None:
            self._refresh_timer.stop()
            self._refresh_timer = None

    async def stop_live(self) -> None:
        """Stop the load and drain the engine (once; bounded so quitting never hangs)."""
        if self._stopping or self.live is None or not self.start_live:
            return
        self._stopping = True
        live = self.live
        try:
            in_flight = live.snapshot().outcomes.in_flight
        except ClawletError:  # the engine is not answering: stop() still ends it
            in_flight = 0
        try:
            await asyncio.wait_for(live.stop(), timeout=20.0)
        except (TimeoutError, ClawletError) as exc:  # pragma: no cover - depends on the model
            self.log.error(f"stopping the live run: {exc!r}")
        try:
            self.exit_summary = quit_summary(live.snapshot(), in_flight)
        except ClawletError as exc:
            self.exit_summary = f"clawlet-tui: {exc}"
        if live.problem:
            self.exit_summary += f" ({live.problem})"

    async def action_quit(self) -> None:
        self._stop_refreshing()
        await self.stop_live()
        self.exit(0)

    # -- data flow ------------------------------------------------------------------------

    def refresh_metrics(self) -> None:
        """Take one snapshot and hand it down to the dashboard."""
        problem = self.live.problem if self.live is not None else None
        try:
            snapshot = self._snapshot_source()
            load = self.live.view() if self.live is not None else self.replay_load
        except Exception as exc:  # the UI must outlive a failing source
            if problem is not None and self.last_snapshot is not None:
                # the header says what is wrong, over the last figures the engine sent
                self._show(self.last_snapshot, None, problem)
            elif not self._source_failed:
                self._source_failed = True
                self.notify(f"cannot read metrics: {exc!r}", severity="error", timeout=10)
            return
        self._source_failed = False
        self.last_snapshot = snapshot
        self.refresh_count += 1
        if self._on_snapshot is not None:
            self._on_snapshot(snapshot)
        self._judge_alerts(snapshot, load)
        self._show(snapshot, load, problem)
        self.tuning.show()

    def _judge_alerts(self, snapshot: MetricsSnapshot, load: LoadView) -> None:
        """Judge the load's alert rules on the snapshot shown, and log each fire and resolve.

        Here, on the dashboard's side, rather than in the engine process: the snapshot is the
        one the engine measured and its ``time_s`` is the evaluator's clock, so a rule's
        ``for_s`` does not depend on the pipe; a recorded stream is judged the same way; and
        the engine process spends nothing on it (a few comparisons, twice a second, here).
        """
        rules = tuple(getattr(load, "alert_rules", ()))
        if rules != self.alerts.rules:
            self.alerts.set_rules(rules)
        for event in self.alerts.observe(snapshot):
            self.log_ui("alert", event.line())

    def _show(self, snapshot: MetricsSnapshot, load: LoadView | None, problem: str | None) -> None:
        try:
            self.dashboard.show(snapshot, load, self.clock(), problem=problem, alerts=self.alerts.state())
        except NoMatches:  # the dashboard is not mounted (yet, or any more)
            pass

    def log_ui(self, kind: str, message: str) -> None:
        """An event-log line that comes from the UI rather than the engine."""
        if self.dashboard.is_attached:
            self.dashboard.log_local(kind, message, self.clock())

    # -- themes ---------------------------------------------------------------------------

    def _load_themes(self) -> None:
        found = discover_themes(self._theme_dirs)
        for theme in found.themes:
            self.register_theme(theme)
        self.file_themes = list(found.names)
        for error in found.errors:
            self.notify(f"{error} (theme skipped)", severity="error", title="Bad theme file", timeout=10)
            self.log_ui("theme", str(error))
        default = DEFAULT_THEME if DEFAULT_THEME in self.available_themes else FALLBACK_THEME
        wanted = default
        if self.requested_theme and is_theme_path(self.requested_theme):
            try:
                theme = load_theme_file(self.requested_theme)
            except ThemeError as error:
                self.notify(f"{error}; using {default}", severity="error", title="Bad theme file", timeout=10)
                self.log_ui("theme", str(error))
            else:
                self.register_theme(theme)
                if theme.name not in self.file_themes:
                    self.file_themes.append(theme.name)
                wanted = theme.name
        elif self.requested_theme:
            resolved = resolve_theme_name(self.requested_theme, list(self.available_themes))
            if resolved is None:
                message = f"unknown theme {self.requested_theme!r}; using {default}"
                self.notify(message, severity="error", title="Theme")
                self.log_ui("theme", message)
            else:
                wanted = resolved
        self.theme = wanted

    def action_cycle_theme(self) -> None:
        names = self.file_themes or [FALLBACK_THEME]
        index = names.index(self.theme) + 1 if self.theme in names else 0
        self.theme = names[index % len(names)]
        self.notify(f"theme: {self.theme}", timeout=2)

    # -- command palette and help ---------------------------------------------------------

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for control in CONTROLS:
            key = control.key_display or control.key
            yield SystemCommand(f"{control.help} [{key}]", f"key: {key}", partial(self.run_action, control.action))

    def help_rows(self) -> list[tuple[str, str]]:
        return list(HELP_ROWS)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.help_rows()))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in DASHBOARD_ACTIONS and not isinstance(self.screen, DashboardScreen):
            return False
        return True

    # -- engine controls ------------------------------------------------------------------

    def _engine(self) -> EngineControls | None:
        if self.live is None:
            self.notify("replaying a recorded stream: there is no live engine to control", severity="warning")
            return None
        return self.live

    def apply_changes(self, **changes: Any) -> OptimizationConfig | None:
        """``engine.update(**changes)``; a refused value becomes an error notification."""
        engine = self._engine()
        if engine is None or not changes:
            return None
        try:
            config = engine.update(**changes)
        except ClawletError as exc:
            self.notify(str(exc), severity="error", title="Refused")
            return None
        summary = ", ".join(f"{k}={v}" for k, v in changes.items())
        self.notify(summary, title="Config", timeout=3)
        self.refresh_metrics()
        return config

    def action_adjust(self, field: str, direction: str) -> None:
        engine = self._engine()
        if engine is None:
            return
        up, down = KNOB_STEPS[field]
        current = getattr(engine.config, field)
        self.last_field = field
        self.apply_changes(**{field: (up if direction == "up" else down)(current)})

    async def action_toggle(self, field: str) -> None:
        """Flip a boolean config field (``enable_batching``, ``enable_cache``).

        Overrides Textual's generic ``toggle`` action, which is async; Textual awaits either kind.
        """
        engine = self._engine()
        if engine is None:
            return
        self.last_field = field
        self.apply_changes(**{field: not getattr(engine.config, field)})

    def action_cycle_policy(self) -> None:
        """The next batch policy, through the same validated path as every other change."""
        engine = self._engine()
        if engine is None:
            return
        policies = CHOICES["batch_policy"]
        current = engine.config.batch_policy
        index = policies.index(current) + 1 if current in policies else 0
        self.last_field = "batch_policy"
        self.apply_changes(batch_policy=policies[index % len(policies)])

    def action_latency_view(self) -> None:
        """Switch the latency panel's view (a display choice: works on a replay too; the panel's
        title says which view it shows, so no notification covers the panels)."""
        self.dashboard.next_latency_view()

    def action_gc(self) -> None:
        engine = self._engine()
        if engine is not None:
            self._call(engine.trigger_gc, "GC triggered")

    def action_clear_cache(self) -> None:
        engine = self._engine()
        if engine is not None:
            self._call(engine.clear_cache, "cache cleared")

    def action_reset_metrics(self) -> None:
        engine = self._engine()
        if engine is not None:
            self._call(engine.reset_metrics, "metrics reset")

    async def action_warm_up(self) -> None:
        """Start a warm-up; it runs beside the load and restarts the metrics when it ends."""
        if self._engine() is None:
            return
        assert self.live is not None
        try:
            keys = await self.live.warm_up()
        except ClawletError as exc:
            self.notify(f"warm-up: {exc}", severity="error")
            return
        self.notify(f"warm-up: {keys:,} keys; the metrics restart when it ends", timeout=3)
        self.refresh_metrics()

    def _call(self, method: Callable[[], Any], done: str) -> None:
        try:
            method()
        except ClawletError as exc:
            self.notify(str(exc), severity="error")
            return
        self.notify(done, timeout=2)
        self.refresh_metrics()

    def action_edit_config(self) -> None:
        engine = self._engine()
        if engine is None:
            return

        def apply(changes: dict[str, Any] | None) -> None:
            if changes:
                self.apply_changes(**changes)
            elif changes is not None:
                self.notify("no changes", timeout=2)

        self.push_screen(ConfigEditorScreen(engine.config, focus_field=self.last_field), apply)

    # -- tuning (tuning_flow.py) ----------------------------------------------------------

    async def action_tune(self) -> None:
        await self.tuning.begin()

    async def action_tune_apply(self) -> None:
        await self.tuning.apply()

    async def action_tune_stop(self) -> None:
        await self.tuning.stop()

    # -- load controls --------------------------------------------------------------------

    async def _load_call(self, what: str, coro: Any) -> bool:
        try:
            await coro
        except (ClawletError, ValueError) as exc:
            self.notify(f"{what}: {exc}", severity="error")
            return False
        self.refresh_metrics()
        return True

    async def action_pause(self) -> None:
        if self._engine() is None:
            return
        assert self.live is not None
        if await self._load_call("pause", self.live.toggle_pause()):
            self.notify("load paused" if self.live.paused else "load resumed", timeout=2)

    async def action_burst(self) -> None:
        if self._engine() is None:
            return
        assert self.live is not None
        try:
            sent = await self.live.burst(BURST_SIZE)
        except (ClawletError, RuntimeError) as exc:
            self.notify(f"burst: {exc}", severity="error")
            return
        self.notify(f"burst: {sent if isinstance(sent, int) else BURST_SIZE} requests sent", timeout=2)
        self.refresh_metrics()

    async def action_rate(self, direction: str) -> None:
        if self._engine() is None:
            return
        assert self.live is not None
        if self.live.open_loop and self.live.target_rps is not None:
            rate = self.live.target_rps
            new = round(rate * RATE_STEP if direction == "up" else rate / RATE_STEP, 2)
            if await self._load_call("rate", self.live.set_rate(new)):
                self.notify(f"arrival rate {new:g} req/s", timeout=2)
            return
        # closed loop: the "rate" is the number of clients
        clients = (self.live.clients or 1) + (1 if direction == "up" else -1)
        if await self._load_call("clients", self.live.set_rate(clients)):
            self.notify(f"closed loop: {clients} clients", timeout=2)

    def _preset_choices(self) -> list[tuple[str, str]]:
        if self._preset_lister is not None:
            items = list(self._preset_lister())
        else:
            from ..load import list_presets

            items = list(list_presets(skip_invalid=True))
        choices = []
        for item in items:
            if isinstance(item, str):
                choices.append((item, ""))
            else:
                choices.append((str(item.name), str(getattr(item, "description", ""))))
        return choices

    def action_switch_preset(self) -> None:
        if self._engine() is None:
            return
        assert self.live is not None
        try:
            choices = self._preset_choices()
        except (ClawletError, ImportError) as exc:
            self.notify(f"cannot list presets: {exc}", severity="error")
            return

        async def switch(name: str | None) -> None:
            if name is None:
                return
            await self.switch_preset(name)

        self.push_screen(PresetPickerScreen(choices, current=self.live.preset_name), switch)

    async def switch_preset(self, name: str) -> None:
        assert self.live is not None
        try:
            new_engine = await self.live.switch_preset(name)
        except ClawletError as exc:
            self.notify(f"preset {name}: {exc}", severity="error")
            return
        if new_engine:
            self.dashboard.query_one("#events", EventLogPanel).reset()
            self.notify(f"preset {name}: new engine for its model", timeout=3)
        else:
            self.notify(f"preset {name}", timeout=3)
        self.refresh_metrics()

    # -- export ---------------------------------------------------------------------------

    async def action_export(self) -> None:
        try:
            from ..report import write_report
        except ImportError:
            self.notify("report export is not available (clawlet_tui.report is missing)", severity="warning")
            return
        snapshot = self.last_snapshot or self._snapshot_source()
        load_stats = self.live.stats() if self.live is not None else None
        preset = self.live.preset if self.live is not None else None
        path = self.report_dir / f"clawlet-report-{self.clock():%Y%m%d-%H%M%S}.md"
        try:
            result = write_report(path, snapshot, load_stats, preset, alerts=self.alerts.state())
            if inspect.isawaitable(result):
                result = await result
        except (ClawletError, OSError, ValueError, TypeError) as exc:
            self.notify(f"export failed: {exc}", severity="error")
            return
        written = Path(result if isinstance(result, (str, Path)) else path).resolve()
        self.notify(f"report written to {written}", title="Export", timeout=5)
        self.log_ui("export", f"report written to {written}")


def quit_summary(snapshot: MetricsSnapshot, in_flight_at_quit: int) -> str:
    """What the run did, and what happened to the requests in flight when the user quit."""
    o = snapshot.outcomes
    left = f"; {o.in_flight} still unaccounted" if o.in_flight else ""
    return (
        f"clawlet-tui: {o.submitted:,} requests in {snapshot.uptime_s:.0f} s: {o.succeeded:,} ok, {o.failed:,} failed, "
        f"{o.rejected:,} rejected, {o.timed_out:,} timed out, {o.cancelled:,} cancelled; "
        f"{in_flight_at_quit:,} in flight at quit, drained before exit{left}"
    )


def run_dashboard(
    preset: str = "steady",
    overrides: Mapping[str, Any] | None = None,
    theme: str | None = None,
    backend_url: str | Sequence[str] | None = None,
    model_name: str | None = None,
    on_app: Callable[[ClawletApp], None] | None = None,
    in_process: bool = False,
    on_snapshot: Callable[[MetricsSnapshot], None] | None = None,
    preset_object: Any = None,
) -> int:
    """Open the dashboard with ``preset`` running (``overrides`` are ``--set`` values).

    ``preset_object``: the preset already loaded and changed (``--model``), used whenever
    ``preset`` is asked for instead of reading the file again.

    The engine and its load run in a child process (:mod:`.engine_process`), so rendering
    does not take the GIL from them; ``in_process`` runs them on a thread of this process
    instead (:class:`LiveRun`: easier to debug a user model, but the engine's P99 rises
    to 1.4-2.1x headless while the dashboard renders; see docs/benchmarks.md).

    ``on_app`` is handed the app before it runs (the CLI's SIGTERM handler asks it to quit);
    ``on_snapshot`` gets every snapshot the dashboard shows (``--metrics-port``).

    Raises :class:`PresetError` / :class:`ConfigError` (or whatever building the engine
    raised, in the child too) before the screen opens if the preset, an override or the
    model is bad; returns the app's exit code (0 after a normal quit).
    """
    live: EngineControls
    if in_process:
        from ..load import load_preset

        def loader(name: str) -> Any:
            return preset_object if preset_object is not None and name == preset else load_preset(name)

        live = LiveRun.from_preset(
            preset, dict(overrides) if overrides else None, backend_url=backend_url, model_name=model_name,
            preset_loader=loader,
        )
    else:
        from .engine_process import EngineProcess, yield_cpu_to_engine

        live = EngineProcess.launch(
            preset, overrides, backend_url=backend_url, model_name=model_name, preset_object=preset_object
        )
        yield_cpu_to_engine()  # the UI gives way to the engine when the cores are busy
    app = ClawletApp(live, theme=theme, on_snapshot=on_snapshot)
    if on_app is not None:
        on_app(app)
    try:
        result = app.run()
    finally:
        close = getattr(live, "close", None)
        if close is not None:  # the engine process ends even if the app did not stop it
            close()
    if app.exit_summary:
        print(app.exit_summary)
    return result if isinstance(result, int) else (app.return_code or 0)
