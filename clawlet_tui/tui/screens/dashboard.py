"""The main screen: nine live panels in a grid, a status line and the key footer.

The screen is passive: the app calls :meth:`DashboardScreen.show` with each new snapshot
and the screen hands the pieces down to its panels.  Layout adapts to the terminal with
the app's breakpoints (``-narrow``/``-wide`` and ``-short``/``-tall`` classes on the screen);
80x24, the default terminal, is a layout of its own (see dashboard.tcss).
"""

from __future__ import annotations

from datetime import datetime

from textual.app import ComposeResult
from textual.containers import Grid
from textual.screen import Screen

from ...engine.alerts import AlertState
from ...engine.snapshot import MetricsSnapshot
from ..live import LoadView
from ..widgets import (
    BatchesPanel,
    CachePanel,
    ConcurrencyPanel,
    ConfigPanel,
    EventLogPanel,
    LatencyPanel,
    MemoryPanel,
    OutcomesPanel,
    ThroughputPanel,
)
from ..widgets.key_bar import KeyBar
from ..widgets.panel import MetricPanel
from ..widgets.status_line import StatusLine

#: the panel that shows each alert metric's figure: its border shows the alert
ALERT_PANELS: dict[str, type[MetricPanel]] = {
    "p99_ms": LatencyPanel,
    "p50_ms": LatencyPanel,
    "throughput": ThroughputPanel,
    "success_rate": OutcomesPanel,
    "error_rate": OutcomesPanel,
    "queue_depth": ConcurrencyPanel,
    "memory_usage": MemoryPanel,
}


class DashboardScreen(Screen[None]):
    #: nothing needs the keyboard focus here; every key is a dashboard control
    AUTO_FOCUS = ""

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status")
        with Grid(id="panels"):
            yield ThroughputPanel(id="throughput")
            yield LatencyPanel(id="latency")
            yield BatchesPanel(id="batches")
            yield CachePanel(id="cache")
            yield MemoryPanel(id="memory")
            yield ConcurrencyPanel(id="concurrency")
            yield OutcomesPanel(id="outcomes")
            yield ConfigPanel(id="config")
            yield EventLogPanel(id="events")
        yield KeyBar(id="keys")

    def show(
        self,
        snapshot: MetricsSnapshot,
        load: LoadView | None,
        now: datetime,
        problem: str | None = None,
        alerts: AlertState | None = None,
    ) -> None:
        """Hand one snapshot down to every panel; ``problem`` (the engine is not answering) goes
        to the status line in place of the engine's state; the alerts firing go to the status
        line and to the border of the panel that shows each one's figure."""
        if load is not None:
            self.query_one(LatencyPanel).slo_p99_ms = load.slo_p99_ms
            self.query_one(ConfigPanel).load = load
        self.query_one(EventLogPanel).now = now
        for panel in (
            ThroughputPanel,
            LatencyPanel,
            BatchesPanel,
            CachePanel,
            MemoryPanel,
            ConcurrencyPanel,
            OutcomesPanel,
            ConfigPanel,
            EventLogPanel,
        ):
            self.query_one(panel).snapshot = snapshot
        firing = alerts.firing if alerts is not None else ()
        by_panel: dict[type[MetricPanel], tuple[str, ...]] = dict.fromkeys(ALERT_PANELS.values(), ())
        for event in firing:
            by_panel[ALERT_PANELS[event.rule.metric]] += (event.rule.describe(),)
        for kind, described in by_panel.items():
            self.query_one(kind).alerts = described
        self.query_one(StatusLine).show(snapshot, load, now, problem, firing)

    def next_latency_view(self) -> str:
        """Switch the latency panel between its trend and its histogram; returns the new view."""
        return self.query_one(LatencyPanel).next_view()

    def log_local(self, kind: str, message: str, when: datetime | None) -> None:
        self.query_one(EventLogPanel).add_local(kind, message, when)

