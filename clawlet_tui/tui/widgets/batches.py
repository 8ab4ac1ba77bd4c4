"""Batches panel: the batch policy and why batches left, the fitted batch cost, how full
batches are (histogram), how often they run and how long requests wait.

"Why batches left" is what tells a user whether batching helps: batches that leave because
a worker was free cost no waiting; batches that leave because their wait expired paid the
whole ``batch_timeout_s``.  The fitted cost ``a + b·n`` (ms for a batch of n) is the
engine's own model of the backend; it is "fitting…" until batches were measured, and
"needs 2 sizes" while every recent batch had the same size (a line needs two points).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from ...engine.snapshot import BatchStats, MetricsSnapshot
from .charts import BarChart
from .packing import is_narrow, pack
from .panel import MetricPanel
from .units import fmt_count, fmt_ms, fmt_rate

#: most bars the histogram draws; larger sizes are folded into the last bar
MAX_BARS = 12

#: below this width the dispatch reasons get their short names (two per line at 100 columns)
SHORT_REASONS_CELLS = 40

#: dispatch reasons as the panel names them (the engine's names are identifiers), long and short
REASON_LABELS = {
    "full": ("full", "full"),
    "worker_free": ("worker free", "free"),
    "wait_expired": ("wait expired", "expired"),
    "predicted_gain": ("predicted gain", "gain"),
}


def reason_chunks(batches: BatchStats, short: bool = False) -> list[str]:
    """Why batches left, one ``reason count`` chunk per reason, in the engine's order."""
    return [
        f"{REASON_LABELS.get(reason, (reason, reason))[short]} [b]{fmt_count(n)}[/b]"
        for reason, n in batches.dispatch_reasons
    ]


def cost_text(batches: BatchStats, short: bool = False) -> str:
    """The fitted batch cost, or how far the fit has got (``short``: without the sample count)."""
    if batches.cost_a_ms is None or batches.cost_b_ms is None:
        if batches.cost_samples >= 2:  # measured, but every recent batch had the same size
            return "cost [dim]one size[/]" if short else f"cost [dim]needs 2 sizes ({batches.cost_samples} alike)[/]"
        return "cost [dim]fitting…[/]" if short else f"cost [dim]fitting… ({batches.cost_samples} batches)[/]"
    return f"cost [b]{batches.cost_a_ms:.2f} + {batches.cost_b_ms:.3f}·n[/b] ms"


class BatchesPanel(MetricPanel):
    TITLE = "Batches"

    def compose(self) -> ComposeResult:
        yield Static(id="batches-now", classes="panel-line")
        yield Static(id="batches-why", classes="panel-line")
        yield Static(id="batches-wait", classes="panel-line")
        yield BarChart(id="batches-histogram")

    def show(self, snapshot: MetricsSnapshot) -> None:
        b = snapshot.batches
        cfg = snapshot.config
        self.border_subtitle = b.policy if cfg.enable_batching else "batching off"
        width = self.text_width
        narrow = is_narrow(width)
        shed = f"shed [{'$warning' if b.shed else 'dim'}]{fmt_count(b.shed)}[/]"
        splits = f"splits {b.splits}"
        # narrow (80x24): splits moves to the end of the reasons, so the whole panel is six lines
        now = [f"[b]{b.policy}[/b]", f"mean [b]{b.window_mean_size:.1f}[/b]/{cfg.effective_batch_size}"]
        now += [f"{fmt_rate(b.window_batches_per_s)} batch/s", shed, cost_text(b, short=narrow)] + ([] if narrow else [splits])
        self.set_text("#batches-now", pack(now, width))
        why = reason_chunks(b, short=0 < width < SHORT_REASONS_CELLS) or ["[dim]no counts yet[/]"]
        self.set_text("#batches-why", pack(["[dim]left:[/]", *why] + ([splits] if narrow else []), width))
        self.set_text(
            "#batches-wait",
            pack(
                [
                    f"queue wait P50 {fmt_ms(b.queue_wait.p50_ms)} P99 {fmt_ms(b.queue_wait.p99_ms)}",
                    f"compute {fmt_ms(b.compute.p50_ms)}",
                ],
                width,
            ),
        )
        hist = list(b.size_histogram)
        if len(hist) > MAX_BARS:
            head, tail = hist[: MAX_BARS - 1], hist[MAX_BARS - 1 :]
            hist = head + [(tail[0][0], sum(n for _, n in tail))]
            labels = [str(size) for size, _ in head] + [f"{tail[0][0]}+"]
        else:
            labels = [str(size) for size, _ in hist]
        self.query_one(BarChart).set_data(labels, [n for _, n in hist])
