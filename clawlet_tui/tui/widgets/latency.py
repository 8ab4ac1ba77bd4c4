"""Latency panel: P50 / P99 / mean now, and either their history (with the preset's P99 SLO
line) or the window's latency histogram, which shows what two percentiles hide (cache hits
near 0.05 ms and computed requests near 5 ms make a P50 and a P99 that describe neither).

The dashboard switches the view (key ``h``) by setting :attr:`LatencyPanel.view`.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.reactive import reactive
from textual.widgets import Static

from ...engine.snapshot import MetricsSnapshot
from .charts import Line, TimeSeriesChart
from .histogram import LatencyHistogram
from .packing import is_narrow, pack
from .panel import MetricPanel
from .units import fmt_ms

#: the panel's views, in the order the key cycles through them
VIEWS = ("trend", "histogram")


class LatencyPanel(MetricPanel):
    TITLE = "Latency"

    #: the preset's P99 objective in ms (None: no SLO line)
    slo_p99_ms: reactive[float | None] = reactive(None, repaint=False)
    #: "trend" (P50/P99 over time) or "histogram" (the window's distribution)
    view: reactive[str] = reactive("trend", repaint=False)

    def compose(self) -> ComposeResult:
        yield Static(id="latency-now", classes="panel-line")
        yield TimeSeriesChart(id="latency-chart")
        yield LatencyHistogram(id="latency-histogram")

    def watch_slo_p99_ms(self) -> None:
        if self.snapshot is not None and self.is_mounted:
            self.show(self.snapshot)

    def validate_view(self, view: str) -> str:
        return view if view in VIEWS else VIEWS[0]

    def watch_view(self, view: str) -> None:
        # which of the chart and the histogram shows is a CSS class (panels.tcss)
        self.set_class(view == "histogram", "-histogram")
        self.set_title("Latency" if view == "trend" else "Latency histogram")
        if self.snapshot is not None and self.is_mounted:
            self.show(self.snapshot)

    def next_view(self) -> str:
        """Switch to the next view; returns its name."""
        self.view = VIEWS[(VIEWS.index(self.view) + 1) % len(VIEWS)]
        return self.view

    def show(self, snapshot: MetricsSnapshot) -> None:
        lat = snapshot.window_latency
        slo = self.slo_p99_ms
        self.border_subtitle = f"P99 {fmt_ms(lat.p99_ms)}"
        narrow = is_narrow(self.text_width)
        histogram = self.view == "histogram"
        chunks = [f"P50 [b $primary]{fmt_ms(lat.p50_ms)}[/]", f"P99 [b $accent]{fmt_ms(lat.p99_ms)}[/]"]
        if not (narrow and histogram):  # at 80x24 every row is wanted by the bars
            chunks.append(f"mean {fmt_ms(lat.mean_ms)}")
        if slo is not None:
            over = lat.p99_ms > slo
            verdict = f"SLO [{'$error' if over else '$success'}]{fmt_ms(slo)} {'over' if over else 'ok'}[/]"
            if narrow:  # the P99 is in the text already; the border takes the SLO
                self.border_subtitle = verdict
            else:
                chunks.append(verdict)
        if histogram and not narrow:
            chunks.append(f"[dim]{lat.count:,} in {snapshot.window_s:g} s[/]")
        self.set_text("#latency-now", pack(chunks, self.text_width))
        if histogram:
            self.query_one(LatencyHistogram).set_data(snapshot.window_latency_histogram, lat.p50_ms, lat.p99_ms)
            return
        # x: seconds before the newest finished second, so the axis moves only when a point arrives
        newest = snapshot.series[-1].t_s if snapshot.series else 0.0
        xs = [p.t_s - newest for p in snapshot.series]
        lines = [
            Line("P50", [p.p50_ms for p in snapshot.series], "primary"),
            Line("P99", [p.p99_ms for p in snapshot.series], "accent"),
        ]
        threshold = ("SLO", slo, "error") if slo is not None else None
        self.query_one(TimeSeriesChart).set_data(xs, lines, threshold=threshold)
