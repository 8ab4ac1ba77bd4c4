"""Throughput panel: completed requests per second now, and over the last minute."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from ...engine.snapshot import MetricsSnapshot
from .charts import Line, TimeSeriesChart
from .panel import MetricPanel
from .units import fmt_rate


class ThroughputPanel(MetricPanel):
    TITLE = "Throughput"

    def compose(self) -> ComposeResult:
        yield Static(id="throughput-now", classes="panel-line")
        yield TimeSeriesChart(id="throughput-chart")

    def show(self, snapshot: MetricsSnapshot) -> None:
        self.border_subtitle = f"{fmt_rate(snapshot.window_throughput_rps)} req/s"
        self.query_one("#throughput-now", Static).update(
            f"[b]{fmt_rate(snapshot.window_throughput_rps)}[/b] req/s ({snapshot.window_s:g} s)"
            f"  avg {fmt_rate(snapshot.total_throughput_rps)}"
        )
        xs = [p.t_s - snapshot.uptime_s for p in snapshot.series]  # series times are uptime seconds
        self.query_one(TimeSeriesChart).set_data(
            xs, [Line("req/s", [p.throughput_rps for p in snapshot.series], "primary")]
        )
