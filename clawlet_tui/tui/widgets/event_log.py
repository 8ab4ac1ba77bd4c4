"""Event log panel: the engine's events (config changes, GC runs, bursts, errors) as they happen.

Snapshots carry the most recent events; the panel keeps the last ``seq`` it wrote and writes
only newer ones, so an event appears exactly once however often snapshots arrive.  Event
times are engine uptime seconds (like ``snapshot.uptime_s``); the panel turns them into
wall-clock times with the dashboard's clock (``now``: the wall time of the snapshot).
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.reactive import reactive
from textual.widgets import Static

from ...engine.snapshot import MetricsSnapshot
from .panel import MetricPanel

#: lines the log keeps (older lines scroll away)
MAX_LINES = 500

KIND_STYLES = {
    "error": "bold red",
    "warning": "yellow",
    "config": "cyan",
    "gc": "magenta",
    "load": "green",
    "theme": "yellow",
    "alert": "bold red",
}


class EventLogPanel(MetricPanel):
    TITLE = "Events"

    #: wall-clock time of the snapshot being shown (set before ``snapshot``)
    now: reactive[datetime | None] = reactive(None, repaint=False)

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.last_seq = -1
        self.lines_written = 0
        #: the lines shown, newest last (re-wrapped to the panel's width on every render)
        self.lines: deque[Text] = deque(maxlen=MAX_LINES)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="event-scroll"):
            yield Static(id="event-log")

    def show(self, snapshot: MetricsSnapshot) -> None:
        written = self.lines_written
        now = self.now
        for event in snapshot.events:
            if event.seq <= self.last_seq:
                continue
            self.last_seq = event.seq
            if now is not None:
                stamp = (now - timedelta(seconds=max(0.0, snapshot.uptime_s - event.time_s))).strftime("%H:%M:%S")
            else:
                stamp = f"{event.time_s:8.1f}s"
            line = Text.assemble(
                (stamp, "dim"), " ", (f"{event.kind:<7}", KIND_STYLES.get(event.kind, "bold")), " ", event.message
            )
            self.lines.append(line)
            self.lines_written += 1
        if self.lines_written != written:
            self._render_lines()

    def _render_lines(self) -> None:
        self.set_text("#event-log", Text("\n").join(self.lines))
        self.query_one("#event-scroll", VerticalScroll).scroll_end(animate=False, immediate=False)
        self.border_subtitle = f"{self.lines_written} events"

    def reset(self) -> None:
        """Forget what was written (the engine was rebuilt and its seq restarts)."""
        self.last_seq = -1

    def add_local(self, kind: str, message: str, when: datetime | None = None) -> None:
        """Write a line that did not come from the engine (theme errors, exports)."""
        stamp = when.strftime("%H:%M:%S") if when is not None else "--:--:--"
        self.lines.append(
            Text.assemble((stamp, "dim"), " ", (f"{kind:<7}", KIND_STYLES.get(kind, "bold")), " ", message)
        )
        self.lines_written += 1
        self._render_lines()
