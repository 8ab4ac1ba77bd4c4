"""Latency panel: P50 / P99 / mean now, their history, and the preset's P99 SLO line."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.reactive import reactive
from textual.widgets import Static

from ...engine.snapshot import MetricsSnapshot
from .charts import Line, TimeSeriesChart
from .panel import MetricPanel
from .units import fmt_ms


class LatencyPanel(MetricPanel):
    TITLE = "Latency"

    #: the preset's P99 objective in ms (None: no SLO line)
    slo_p99_ms: reactive[float | None] = reactive(None, repaint=False)

    def compose(self) -> ComposeResult:
        yield Static(id="latency-now", classes="panel-line")
        yield TimeSeriesChart(id="latency-chart")

    def watch_slo_p99_ms(self) -> None:
        if self.snapshot is not None and self.is_mounted:
            self.show(self.snapshot)

    def show(self, snapshot: MetricsSnapshot) -> None:
        lat = snapshot.window_latency
        slo = self.slo_p99_ms
        self.border_subtitle = f"P99 {fmt_ms(lat.p99_ms)}"
        text = (
            f"P50 [b]{fmt_ms(lat.p50_ms)}[/b]  P99 [b $accent]{fmt_ms(lat.p99_ms)}[/]  mean {fmt_ms(lat.mean_ms)}"
        )
        if slo is not None:
            style = "$error" if lat.p99_ms > slo else "$success"
            verdict = "over" if lat.p99_ms > slo else "ok"
            text += f"  SLO [{style}]{fmt_ms(slo)} {verdict}[/]"
        self.set_text("#latency-now", text)
        # x: seconds before the newest finished second, so the axis moves only when a point arrives
        newest = snapshot.series[-1].t_s if snapshot.series else 0.0
        xs = [p.t_s - newest for p in snapshot.series]
        lines = [
            Line("P50", [p.p50_ms for p in snapshot.series], "primary"),
            Line("P99", [p.p99_ms for p in snapshot.series], "accent"),
        ]
        threshold = ("SLO", slo, "error") if slo is not None else None
        self.query_one(TimeSeriesChart).set_data(xs, lines, threshold=threshold)
