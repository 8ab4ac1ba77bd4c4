"""Concurrency panel: busy workers, queue depth, and the model session pool."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from ...engine.snapshot import MetricsSnapshot
from .panel import MetricPanel
from .units import fmt_count


class ConcurrencyPanel(MetricPanel):
    TITLE = "Concurrency"

    def compose(self) -> ComposeResult:
        yield Static(id="concurrency-text")

    def show(self, snapshot: MetricsSnapshot) -> None:
        c = snapshot.concurrency
        p = snapshot.pool
        self.border_subtitle = f"{c.busy}/{c.max_concurrent} busy"
        queue_style = "$warning" if c.max_queue_size and c.queue_depth >= 0.8 * c.max_queue_size else "b"
        self.set_text("#concurrency-text", 
            f"busy [b]{c.busy}[/b]/{c.max_concurrent}  peak {c.peak_busy}\n"
            f"queue [{queue_style}]{fmt_count(c.queue_depth)}[/]/{fmt_count(c.max_queue_size)}\n"
            f"pool {p.in_use}/{p.size} in use  idle {p.idle}\n"
            f"pool waits {fmt_count(p.waits)}  discarded {p.discarded}\n"
            f"batches done {fmt_count(c.completed_batches)}"
        )
