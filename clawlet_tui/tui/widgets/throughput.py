"""Throughput panel: completed requests per second now, and over the last minute."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from ...engine.snapshot import MetricsSnapshot
from .charts import Line, TimeSeriesChart
from .packing import is_narrow, pack
from .panel import MetricPanel
from .units import fmt_rate


class ThroughputPanel(MetricPanel):
    TITLE = "Throughput"

    def compose(self) -> ComposeResult:
        yield Static(id="throughput-now", classes="panel-line")
        yield TimeSeriesChart(id="throughput-chart")

    def show(self, snapshot: MetricsSnapshot) -> None:
        self.border_subtitle = f"{fmt_rate(snapshot.window_throughput_rps)} req/s"
        width = self.text_width
        window = "" if is_narrow(width) else f" ({snapshot.window_s:g} s)"
        self.set_text(
            "#throughput-now",
            pack(
                [
                    f"[b]{fmt_rate(snapshot.window_throughput_rps)}[/b] req/s{window}",
                    f"avg {fmt_rate(snapshot.total_throughput_rps)}",
                ],
                width,
            ),
        )
        # x: seconds before the newest finished second, so the axis moves only when a point arrives
        newest = snapshot.series[-1].t_s if snapshot.series else 0.0
        xs = [p.t_s - newest for p in snapshot.series]
        self.query_one(TimeSeriesChart).set_data(
            xs, [Line("req/s", [p.throughput_rps for p in snapshot.series], "primary")]
        )
