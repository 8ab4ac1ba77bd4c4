"""Batches panel: how full batches are (histogram), how often they run, how long requests wait."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from ...engine.snapshot import MetricsSnapshot
from .charts import BarChart
from .panel import MetricPanel
from .units import fmt_ms, fmt_rate

#: most bars the histogram draws; larger sizes are folded into the last bar
MAX_BARS = 12


class BatchesPanel(MetricPanel):
    TITLE = "Batches"

    def compose(self) -> ComposeResult:
        yield Static(id="batches-now", classes="panel-line")
        yield Static(id="batches-wait", classes="panel-line")
        yield BarChart(id="batches-histogram")

    def show(self, snapshot: MetricsSnapshot) -> None:
        b = snapshot.batches
        cfg = snapshot.config
        self.border_subtitle = "on" if cfg.enable_batching else "off"
        self.set_text("#batches-now", 
            f"mean [b]{b.window_mean_size:.1f}[/b]/{cfg.effective_batch_size}"
            f"  {fmt_rate(b.window_batches_per_s)} batch/s  splits {b.splits}"
        )
        self.set_text("#batches-wait", 
            f"queue wait P50 {fmt_ms(b.queue_wait.p50_ms)} P99 {fmt_ms(b.queue_wait.p99_ms)}"
            f"  compute {fmt_ms(b.compute.p50_ms)}"
        )
        hist = list(b.size_histogram)
        if len(hist) > MAX_BARS:
            head, tail = hist[: MAX_BARS - 1], hist[MAX_BARS - 1 :]
            hist = head + [(tail[0][0], sum(n for _, n in tail))]
            labels = [str(size) for size, _ in head] + [f"{tail[0][0]}+"]
        else:
            labels = [str(size) for size, _ in hist]
        self.query_one(BarChart).set_data(labels, [n for _, n in hist])
