"""The status line above the panels: engine state, the load, what this preset has sent, uptime.

It must fit one terminal row at every width from 80 columns up, and the ``sent`` count is
the last thing to go: :func:`status_text` tries ever shorter layouts (dropping the clock,
then shortening words, then the title) and keeps the first that fits.

Firing alerts follow the engine's state, at every width: the rules in full where there is
room, then only their metrics, then only how many.

When the engine does not answer, the line leads with what is wrong (``engine not
responding``, ``engine exited: killed by SIGKILL``) in place of the engine's state, at
every width: the figures below are then the last the engine sent.

``sent`` is the current preset's load generator's count (it starts again at a preset
switch); the Outcomes panel counts the engine's requests since it started.  The line says
``this preset`` so the two are not read as one number.
"""

from __future__ import annotations

from datetime import datetime

from rich.markup import escape
from textual.widgets import Static

from ...engine.alerts import AlertEvent
from ...engine.snapshot import MetricsSnapshot
from ..live import LoadView
from .packing import cell_width
from .units import fmt_count

#: how many ever-shorter layouts :func:`status_parts` knows
LEVELS = 6


def status_parts(
    snapshot: MetricsSnapshot,
    load: LoadView | None,
    now: datetime,
    level: int,
    problem: str | None = None,
    alerts: tuple[AlertEvent, ...] = (),
) -> list[str]:
    """The status line's parts at compaction ``level`` (0: everything, spelled out)."""
    running = "[$success]running[/]" if snapshot.running else "[$warning]stopped[/]"
    parts = []
    if level < 4:
        parts.append("[b $primary]clawlet-tui[/]")
    if problem is not None:
        parts.append(f"[b $error]{escape(problem)}[/]")
    else:
        parts.append(f"engine {running} ({snapshot.mode})" if level < 2 else f"{running} ({snapshot.mode})")
    if alerts:
        parts.append(f"[b $error]{escape(alert_text(alerts, level))}[/]")
    if load is not None:
        if load.mode == "replay":
            parts.append(f"[$accent]replay[/] {load.preset}")
        else:
            state = "[$warning]paused[/]" if load.paused else "finished" if load.finished else "live"
            if load.clients is not None:
                rate = f" {load.clients} clients"
            elif load.target_rps is not None:
                rate = f" {load.target_rps:g} req/s" if level < 3 else f" {load.target_rps:g}/s"
            else:
                rate = ""
            parts.append(f"load [b]{load.preset}[/b] {load.mode}{rate} {state}" if level < 3 else f"[b]{load.preset}[/b]{rate} {state}")
            sent = f"sent [b]{fmt_count(load.sent)}[/b] this preset"
            if level < 1:
                sent += f"  outstanding {fmt_count(load.outstanding)}"
            parts.append(sent)
    if level < 5:
        parts.append(f"up {snapshot.uptime_s:.0f}s")
    if level < 1:
        parts.append(now.strftime("%H:%M:%S"))
    return parts


def alert_text(alerts: tuple[AlertEvent, ...], level: int) -> str:
    """``ALERT p99_ms > 50 ms for 5 s``; shorter with the level: the metrics, then the count."""
    if level < 2:
        return "ALERT " + ", ".join(event.rule.describe() for event in alerts)
    if level < LEVELS - 1:
        return "ALERT " + ", ".join(dict.fromkeys(event.rule.metric for event in alerts))
    return f"{len(alerts)} ALERT{'S' if len(alerts) > 1 else ''}"


def status_text(
    snapshot: MetricsSnapshot,
    load: LoadView | None,
    now: datetime,
    width: int,
    problem: str | None = None,
    alerts: tuple[AlertEvent, ...] = (),
) -> str:
    """The longest layout of the status line that fits ``width`` cells (the shortest if none does)."""
    text = ""
    for level in range(LEVELS):
        sep = "  │  " if level < 2 else " │ "
        text = sep.join(status_parts(snapshot, load, now, level, problem, alerts))
        if width <= 0 or cell_width(text) <= width:
            break
    return text


class StatusLine(Static):
    """One row; the dashboard hands it each snapshot and it lays itself out to its width."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._args: tuple[MetricsSnapshot, LoadView | None, datetime] | None = None
        self._problem: str | None = None
        self._alerts: tuple[AlertEvent, ...] = ()
        self._text: str | None = None

    def show(
        self,
        snapshot: MetricsSnapshot,
        load: LoadView | None,
        now: datetime,
        problem: str | None = None,
        alerts: tuple[AlertEvent, ...] = (),
    ) -> None:
        self._args = (snapshot, load, now)
        self._problem = problem
        self._alerts = alerts
        self._render_text()

    def on_resize(self) -> None:
        self._render_text()

    def _render_text(self) -> None:
        if self._args is None:
            return
        text = status_text(*self._args, self.content_size.width, self._problem, self._alerts)
        if text != self._text:  # an unchanged line is not laid out again
            self._text = text
            self.update(text)
