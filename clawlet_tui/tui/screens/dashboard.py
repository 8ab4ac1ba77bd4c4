"""The main screen: nine live panels in a grid, a status line and the key footer.

The screen is passive: the app calls :meth:`DashboardScreen.show` with each new snapshot
and the screen hands the pieces down to its panels.  Layout adapts to the terminal with
the app's breakpoints (``-narrow``/``-wide`` and ``-short``/``-tall`` classes on the screen).
"""

from __future__ import annotations

from datetime import datetime

from textual.app import ComposeResult
from textual.containers import Grid
from textual.screen import Screen
from textual.widgets import Static

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
from ..widgets.units import fmt_count


class DashboardScreen(Screen[None]):
    #: nothing needs the keyboard focus here; every key is a dashboard control
    AUTO_FOCUS = ""

    def compose(self) -> ComposeResult:
        yield Static(id="status")
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

    def show(self, snapshot: MetricsSnapshot, load: LoadView | None, now: datetime) -> None:
        """Hand one snapshot down to every panel."""
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
        self.query_one("#status", Static).update(_status_line(snapshot, load, now))

    def log_local(self, kind: str, message: str, when: datetime | None) -> None:
        self.query_one(EventLogPanel).add_local(kind, message, when)


def _status_line(snapshot: MetricsSnapshot, load: LoadView | None, now: datetime) -> str:
    engine = "[$success]running[/]" if snapshot.running else "[$warning]stopped[/]"
    parts = [f"[b $primary]clawlet-tui[/]", f"engine {engine} ({snapshot.mode})"]
    if load is not None:
        if load.mode == "replay":
            parts.append(f"[$accent]replay[/] {load.preset}")
        else:
            state = "[$warning]paused[/]" if load.paused else "finished" if load.finished else "live"
            rate = f" {load.target_rps:g} req/s" if load.target_rps is not None else ""
            if load.clients is not None:
                rate = f" {load.clients} clients"
            parts.append(f"load [b]{load.preset}[/b] {load.mode}{rate} {state}")
            parts.append(f"sent {fmt_count(load.sent)}  outstanding {fmt_count(load.outstanding)}")
    parts.append(f"up {snapshot.uptime_s:.0f}s")
    parts.append(now.strftime("%H:%M:%S"))
    return "  │  ".join(parts)
