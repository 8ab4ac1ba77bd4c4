"""The tuning view (key ``a``): the trials as they finish, where they sit against the SLO, the budget.

It shows a :class:`~clawlet_tui.tui.live_tuning.TuningView` the app hands down on every
refresh (attributes down) and turns Enter and Esc into the app's ``tune_apply`` and
``tune_stop`` actions (intent up); it never calls the engine.  Layout, top to bottom:

* the objective and the state, and a bar of the time spent against the budget;
* the incumbent: the config that leads so far (pooled figures), and whether it may be applied;
* left, the table of trials (the incumbent's rows highlighted); right, the scatter of
  throughput against P99 with the SLO line;
* how it ended, and the keys.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, ProgressBar, Static

from ...tune.space import describe_point
from ..live_tuning import RUNNING, TuningView
from ..widgets.trial_scatter import TrialScatter

COLUMNS = ("#", "role", "thr req/s", "P50 ms", "P99 ms", "ok %", "SLO", "windows", "config")


class TuningScreen(Screen[None]):
    """The trials of the running (or last) tuning; Enter applies the best, Esc restores the start."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "app.tune_apply", "apply best", priority=True),
        Binding("escape", "app.tune_stop", "stop, restore start config"),
    ]

    def __init__(self, view: TuningView | None = None, preset: str = "") -> None:
        super().__init__()
        self.view = view
        self.preset = preset
        self._rows_shown: object = None
        self._ready = False

    def compose(self) -> ComposeResult:
        with Vertical(id="tune-box") as box:
            box.border_title = "Tuning"
            box.border_subtitle = "enter applies the best · esc stops and restores the start config"
            yield Static(id="tune-objective")
            with Horizontal(id="tune-progress-row"):
                yield ProgressBar(total=1.0, show_eta=False, show_percentage=False, id="tune-progress")
                yield Static(id="tune-budget")
            yield Static(id="tune-incumbent")
            with Horizontal(id="tune-body"):
                table: DataTable[str | Text] = DataTable(id="tune-trials", cursor_type="none", zebra_stripes=True)
                yield table
                yield TrialScatter(id="tune-scatter")
            yield Static(id="tune-message")

    def on_mount(self) -> None:
        table = self.query_one("#tune-trials", DataTable)
        table.add_columns(*COLUMNS)
        self._ready = True
        if self.view is not None:
            self.show(self.view)

    def show(self, view: TuningView) -> None:
        """Redraw from ``view`` (what the engine side published last); kept until mounted."""
        self.view = view
        if not self._ready:
            return
        running = view.state == RUNNING
        title = f"Tuning {self.preset}: " if self.preset else "Tuning: "
        self.query_one("#tune-objective", Static).update(f"{title}{view.objective}")
        bar = self.query_one("#tune-progress", ProgressBar)
        bar.update(total=view.budget_s, progress=min(view.elapsed_s, view.budget_s))
        state = "running" if running else view.state
        self.query_one("#tune-budget", Static).update(
            f" {view.elapsed_s:.0f} s of {view.budget_s:.0f} s · {len(view.trials)} trials of "
            f"{view.space_size} configs · {state}"
        )
        self.query_one("#tune-incumbent", Static).update(_incumbent_line(view))
        self._show_rows(view)
        self.query_one(TrialScatter).set_data(view.trials, view.slo_p99_ms, view.incumbent)
        message = view.message or "measuring: each trial warms up, then 1 s windows until 3 agree within 10%"
        self.query_one("#tune-message", Static).update(message)

    def _show_rows(self, view: TuningView) -> None:
        key = (view.trials, view.incumbent)
        if key == self._rows_shown:
            return
        self._rows_shown = key
        table = self.query_one("#tune-trials", DataTable)
        table.clear()
        for t in view.trials:
            lead = t.point == view.incumbent
            style = "bold reverse" if lead else ""
            cells = (
                str(t.number), t.role, f"{t.throughput_rps:.1f}", f"{t.p50_ms:.2f}", f"{t.p99_ms:.2f}",
                f"{t.success * 100:.1f}", "yes" if t.meets_slo else "no",
                f"{t.windows} {'stable' if t.stable else 'unstable'}", t.summary,
            )
            table.add_row(*(Text(c, style=style) for c in cells))
        if view.trials:
            table.scroll_end(animate=False)


def _incumbent_line(view: TuningView) -> Text:
    if view.incumbent is None:
        return Text("Best so far: none yet (the start config is measured first)")
    text = Text("Best so far: ")
    text.append(describe_point(view.incumbent), style="bold")
    text.append(f"  {view.incumbent_throughput_rps:.1f} req/s, P99 {view.incumbent_p99_ms:.2f} ms  ")
    if view.incumbent_feasible:
        text.append("meets the SLO: enter applies it", style="bold")
    else:
        text.append(f"misses the SLO ({view.slo_p99_ms:g} ms): nothing to apply yet", style="bold")
    return text
